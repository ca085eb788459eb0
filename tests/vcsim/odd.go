package main

// The odd-names inventory (-odd): the default model reworked through the
// simulator's own API (in process, so the front handler is not involved)
// into what real inventories contain and naive clients get wrong.
//
// After it, sorted by the VMs' original names:
//
//	VM 0 is "web 01 ünïcødé ☃": EFI with secure boot, CBT on, three disks
//	     (the original on pvscsi, one on a second lsilogic controller on the
//	     last datastore, one on NVMe), three NICs (the original, vmxnet3,
//	     e1000e), and a snapshot tree: "base" with two children,
//	     "after upgrade" and "branch & <b>".
//	VM 1 is `a/b & <c> "q" 'x'`.
//	VM 2 is "../../x", moved into a folder called `odd & <folder> "f"`.
//	The others keep their names.

import (
	"context"
	"fmt"
	"io/ioutil"
	"log"
	"os"
	"sort"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

var oddNames = []string{
	"web 01 ünïcødé ☃",
	`a/b & <c> "q" 'x'`,
	"../../x",
}

const oddFolder = `odd & <folder> "f"`

func addOddInventory(model *simulator.Model) error {
	// The library logs harmless complaints while it builds snapshot trees
	// (a .vmsn name reused after a revert); keep them out of the tests.
	log.SetOutput(ioutil.Discard)
	defer log.SetOutput(os.Stderr)

	ctx := context.Background()
	c, err := vim25.NewClient(ctx, model.Service)
	if err != nil {
		return err
	}
	finder := find.NewFinder(c, false)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)

	vms, err := finder.VirtualMachineList(ctx, "*")
	if err != nil {
		return err
	}
	if len(vms) < len(oddNames) {
		return fmt.Errorf("need at least %d VMs, the model has %d", len(oddNames), len(vms))
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name() < vms[j].Name() })
	stores, err := finder.DatastoreList(ctx, "*")
	if err != nil {
		return err
	}
	sort.Slice(stores, func(i, j int) bool { return stores[i].Name() < stores[j].Name() })

	wait := func(t *object.Task, err error) (types.AnyType, error) {
		if err != nil {
			return nil, err
		}
		info, err := t.WaitForResult(ctx, nil)
		if err != nil {
			return nil, err
		}
		return info.Result, nil
	}

	vm := vms[0]

	// Firmware and secure boot.
	if _, err := wait(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{
		Firmware:    string(types.GuestOsDescriptorFirmwareTypeEfi),
		BootOptions: &types.VirtualMachineBootOptions{EfiSecureBootEnabled: types.NewBool(true)},
	})); err != nil {
		return fmt.Errorf("firmware: %s", err)
	}

	// A second SCSI controller with a disk on the last datastore.
	devices, err := vm.Device(ctx)
	if err != nil {
		return err
	}
	scsi, err := devices.CreateSCSIController("lsilogic")
	if err != nil {
		return err
	}
	if err := vm.AddDevice(ctx, scsi); err != nil {
		return fmt.Errorf("scsi controller: %s", err)
	}
	devices, _ = vm.Device(ctx)
	ctrl, err := devices.FindSCSIController("lsilogic-1000")
	if err != nil {
		ctrl = nil
		for _, d := range devices.SelectByType((*types.VirtualLsiLogicController)(nil)) {
			ctrl = d.(types.BaseVirtualSCSIController).GetVirtualSCSIController()
		}
		if ctrl == nil {
			return fmt.Errorf("the new lsilogic controller is missing")
		}
	}
	last := stores[len(stores)-1]
	fm := object.NewFileManager(c)
	if err := fm.MakeDirectory(ctx, fmt.Sprintf("[%s] %s", last.Name(), vm.Name()), dc, true); err != nil {
		return fmt.Errorf("directory on %s: %s", last.Name(), err)
	}
	disk := devices.CreateDisk(ctrl, last.Reference(), fmt.Sprintf("[%s] %s/data.vmdk", last.Name(), vm.Name()))
	disk.CapacityInKB = 2048
	if err := vm.AddDevice(ctx, disk); err != nil {
		return fmt.Errorf("second disk: %s", err)
	}

	// An NVMe controller with a third disk.
	devices, _ = vm.Device(ctx)
	nvme, err := devices.CreateNVMEController()
	if err != nil {
		return err
	}
	if err := vm.AddDevice(ctx, nvme); err != nil {
		return fmt.Errorf("nvme controller: %s", err)
	}
	devices, _ = vm.Device(ctx)
	nctrl, err := devices.FindNVMEController("")
	if err != nil {
		return err
	}
	disk = devices.CreateDisk(nctrl, stores[0].Reference(), fmt.Sprintf("[%s] %s/scratch.vmdk", stores[0].Name(), vm.Name()))
	disk.CapacityInKB = 1024
	if err := vm.AddDevice(ctx, disk); err != nil {
		return fmt.Errorf("nvme disk: %s", err)
	}

	// Two more NICs.
	net, err := finder.Network(ctx, "VM Network")
	if err == nil {
		backing, err := net.EthernetCardBackingInfo(ctx)
		if err != nil {
			return err
		}
		for _, kind := range []string{"vmxnet3", "e1000e"} {
			devices, _ = vm.Device(ctx)
			nic, err := devices.CreateEthernetCard(kind, backing)
			if err != nil {
				return err
			}
			if err := vm.AddDevice(ctx, nic); err != nil {
				return fmt.Errorf("%s nic: %s", kind, err)
			}
		}
	}

	// CBT, then a snapshot tree: base -> {after upgrade, branch & <b>}.
	if _, err := wait(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: types.NewBool(true)})); err != nil {
		return fmt.Errorf("cbt: %s", err)
	}
	svm := simulator.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
	stampVM(svm)
	snapshot := func(name string) error {
		res, err := wait(vm.CreateSnapshot(ctx, name, "", false, false))
		if err != nil {
			return fmt.Errorf("snapshot %q: %s", name, err)
		}
		if ref, ok := res.(types.ManagedObjectReference); ok {
			if snap, ok := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot); ok {
				stampSnapshot(svm, snap)
			}
		}
		return nil
	}
	if err := snapshot("base"); err != nil {
		return err
	}
	if err := snapshot("after upgrade"); err != nil {
		return err
	}
	if _, err := wait(vm.RevertToSnapshot(ctx, "base", true)); err != nil {
		return fmt.Errorf("revert: %s", err)
	}
	if err := snapshot("branch & <b>"); err != nil {
		return err
	}

	// The odd names, and a folder with an odd name.
	for i, name := range oddNames {
		if _, err := wait(vms[i].Rename(ctx, name)); err != nil {
			return fmt.Errorf("rename to %q: %s", name, err)
		}
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	f, err := folders.VmFolder.CreateFolder(ctx, oddFolder)
	if err != nil {
		return fmt.Errorf("folder: %s", err)
	}
	if _, err := wait(f.MoveInto(ctx, []types.ManagedObjectReference{vms[2].Reference()})); err != nil {
		return fmt.Errorf("move into folder: %s", err)
	}
	return nil
}

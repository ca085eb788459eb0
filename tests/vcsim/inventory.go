package main

// -inventory-json FILE: the simulator's own view of its VMs, read from the
// library's object model (not over SOAP), one JSON object per line.  Tests
// compare vs-ls's output, which goes through SOAP and the C client's XML
// parsing, against it.

import (
	"encoding/json"
	"os"
	"sort"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type invDisk struct {
	Key      int32  `json:"key"`
	File     string `json:"file"`
	Capacity int64  `json:"capacity"`
	Unit     int32  `json:"unit"`
	ChangeId string `json:"change_id,omitempty"`
}

type invNic struct {
	Key int32  `json:"key"`
	Mac string `json:"mac"`
}

type invVM struct {
	Name       string    `json:"name"`
	Moref      string    `json:"moref"`
	UUID       string    `json:"uuid"`
	Host       string    `json:"host"`
	PowerState string    `json:"power_state"`
	CPUs       int32     `json:"cpus"`
	MemoryMiB  int32     `json:"memory_mib"`
	Firmware   string    `json:"firmware"`
	GuestId    string    `json:"guest_id"`
	Disks      []invDisk `json:"disks"`
	Nics       []invNic  `json:"nics"`
	Snapshots  []string  `json:"snapshots"`
}

func snapshotNames(tree []types.VirtualMachineSnapshotTree, out *[]string) {
	for _, t := range tree {
		*out = append(*out, t.Name)
		snapshotNames(t.ChildSnapshotList, out)
	}
}

func writeInventory(path string) error {
	var vms []invVM
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			v := invVM{
				Name:       vm.Name,
				Moref:      vm.Self.Value,
				UUID:       vm.Config.Uuid,
				PowerState: string(vm.Runtime.PowerState),
				CPUs:       vm.Config.Hardware.NumCPU,
				MemoryMiB:  vm.Config.Hardware.MemoryMB,
				Firmware:   vm.Config.Firmware,
				GuestId:    vm.Config.GuestId,
				Disks:      []invDisk{},
				Nics:       []invNic{},
				Snapshots:  []string{},
			}
			if vm.Runtime.Host != nil {
				if h, ok := simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem); ok {
					v.Host = h.Name
				}
			}
			for _, d := range vm.Config.Hardware.Device {
				switch dev := d.(type) {
				case *types.VirtualDisk:
					disk := invDisk{Key: dev.Key, Capacity: diskCapacity(dev)}
					if dev.UnitNumber != nil {
						disk.Unit = *dev.UnitNumber
					}
					if f, ok := backingField(dev, "FileName"); ok {
						disk.File = f.String()
					}
					if f, ok := backingField(dev, "ChangeId"); ok {
						disk.ChangeId = f.String()
					}
					v.Disks = append(v.Disks, disk)
				case types.BaseVirtualEthernetCard:
					card := dev.GetVirtualEthernetCard()
					v.Nics = append(v.Nics, invNic{Key: card.Key, Mac: card.MacAddress})
				}
			}
			if vm.Snapshot != nil {
				snapshotNames(vm.Snapshot.RootSnapshotList, &v.Snapshots)
			}
			vms = append(vms, v)
		})
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Moref < vms[j].Moref })

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	for _, v := range vms {
		if err := enc.Encode(v); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

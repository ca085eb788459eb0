package main

// -vm-disk VM=PATH and -vm-mac VM=MAC: a real disk behind a simulated VM,
// stored the way vSphere stores it.
//
// PATH is the leaf descriptor of a local VMDK chain (text descriptors: a
// flat base, then one or more snapshot deltas, each naming its parent with
// parentFileNameHint).  Its files are hard-linked (or, across file
// systems, copied sparse) into the VM's folder on the first datastore,
// and the VM is made to agree with them: one VirtualDisk whose backing is
// the leaf with parent backings down to the base (deltaDiskFormat set on
// the deltas), the capacity of the descriptors' extents, one snapshot per
// delta whose saved configuration has the chain as it was when the
// snapshot was taken, and layoutEx.file / layoutEx.disk listing exactly
// the chain's descriptors and extents with their sizes, base first.  So
// `vs-ls --chain | vs-pull --dir` fetches exactly these files.
//
// A VM named by -vm-disk that the model does not have is created (powered
// off, BIOS, a pvscsi controller and a vmxnet3 NIC on "VM Network") under
// a safe folder name and renamed last, so a hostile name ("../../etc",
// "$(rm -rf ~)", newlines) is the VM's name only, never a local path, as
// on a real vCenter where the folder keeps the name it was created with.
// An existing VM loses its model disks and keeps its power state.  Repeat
// -vm-disk for a VM to give it several disks (all with the same chain
// depth, since a snapshot covers every disk).  -vm-mac sets the MAC of the
// VM's first NIC (addressType "manual", PCI slot 192 as VMware gives it).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// assignFlag collects repeated NAME=VALUE flags, in order.
type assignFlag struct {
	names  []string
	values []string
}

func (a *assignFlag) String() string { return "" }

func (a *assignFlag) Set(s string) error {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return fmt.Errorf("%q: want VM=VALUE", s)
	}
	a.names = append(a.names, s[:i])
	a.values = append(a.values, s[i+1:])
	return nil
}

// vmdkLink is one level of a local chain: the descriptor and its extents.
type vmdkLink struct {
	descriptor string
	extents    []string
	capacity   int64
	kind       string // the extent type of the first extent: FLAT, VMFS, VMFSSPARSE, SESPARSE...
}

// readDescriptor parses a text VMDK descriptor: its extent lines and the
// parent hint.
func readDescriptor(path string) (vmdkLink, string, error) {
	link := vmdkLink{descriptor: path}
	f, err := os.Open(path)
	if err != nil {
		return link, "", err
	}
	defer f.Close()
	var head [4]byte
	if n, _ := f.Read(head[:]); n == 4 && string(head[:]) == "KDMV" {
		return link, "", fmt.Errorf("%s: a binary sparse VMDK; give text descriptors (as ESX stores them)", path)
	}
	f.Seek(0, io.SeekStart)
	parent := ""
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if strings.HasPrefix(line, "parentFileNameHint=") {
			parent = strings.Trim(strings.TrimPrefix(line, "parentFileNameHint="), `"`)
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 4 && (fields[0] == "RW" || fields[0] == "RDONLY") {
			sectors, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return link, "", fmt.Errorf("%s: bad extent line %q", path, line)
			}
			q := strings.Index(line, `"`)
			r := strings.LastIndex(line, `"`)
			if q < 0 || r <= q {
				return link, "", fmt.Errorf("%s: bad extent line %q", path, line)
			}
			link.extents = append(link.extents, filepath.Join(filepath.Dir(path), line[q+1:r]))
			link.capacity += sectors * 512
			if link.kind == "" {
				link.kind = fields[2]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return link, "", fmt.Errorf("%s: %s", path, err)
	}
	if len(link.extents) == 0 {
		return link, "", fmt.Errorf("%s: no extent lines: not a VMDK descriptor", path)
	}
	return link, parent, nil
}

// readChain follows a leaf descriptor down to its base; base first.
func readChain(leaf string) ([]vmdkLink, error) {
	var topFirst []vmdkLink
	for p := leaf; p != ""; {
		if len(topFirst) > 64 {
			return nil, fmt.Errorf("%s: chain deeper than 64", leaf)
		}
		link, parent, err := readDescriptor(p)
		if err != nil {
			return nil, err
		}
		topFirst = append(topFirst, link)
		if parent == "" {
			break
		}
		// A hint is relative to the delta, or an ESX path: then the
		// same directory.
		next := filepath.Join(filepath.Dir(p), parent)
		if _, err := os.Stat(next); err != nil {
			next = filepath.Join(filepath.Dir(p), filepath.Base(parent))
		}
		p = next
	}
	chain := make([]vmdkLink, len(topFirst))
	for i := range topFirst {
		chain[len(topFirst)-1-i] = topFirst[i]
	}
	return chain, nil
}

// placeFile puts src at dst: a hard link, else a sparse copy (all-zero
// 64 KiB blocks become holes).
func placeFile(src, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s: already on the datastore", filepath.Base(dst))
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 65536)
	var off int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			zero := true
			for _, b := range buf[:n] {
				if b != 0 {
					zero = false
					break
				}
			}
			if !zero {
				if _, werr := out.WriteAt(buf[:n], off); werr != nil {
					out.Close()
					return werr
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			out.Close()
			return err
		}
	}
	if err := out.Truncate(off); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func fileSize(p string) int64 {
	if st, err := os.Stat(p); err == nil {
		return st.Size()
	}
	return 0
}

type vmDiskPlan struct {
	name   string
	chains [][]vmdkLink
	mac    string
}

// safeName: a VM name that can be its folder's name too.
var safeName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

func findVM(name string) *simulator.VirtualMachine {
	for _, e := range simulator.Map.All("VirtualMachine") {
		if vm, ok := e.(*simulator.VirtualMachine); ok && vm.Name == name {
			return vm
		}
	}
	return nil
}

// applyVMDisks does -vm-disk and -vm-mac.
func applyVMDisks(model *simulator.Model, disks, macs *assignFlag) error {
	var plans []*vmDiskPlan
	byName := map[string]*vmDiskPlan{}
	get := func(name string) *vmDiskPlan {
		if p := byName[name]; p != nil {
			return p
		}
		p := &vmDiskPlan{name: name}
		byName[name] = p
		plans = append(plans, p)
		return p
	}
	for i, name := range disks.names {
		chain, err := readChain(disks.values[i])
		if err != nil {
			return err
		}
		p := get(name)
		if len(p.chains) > 0 && len(p.chains[0]) != len(chain) {
			return fmt.Errorf("%q: every disk of a VM needs the same chain depth (a snapshot covers all disks)", name)
		}
		p.chains = append(p.chains, chain)
	}
	for i, name := range macs.names {
		get(name).mac = macs.values[i]
	}

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
	stores, err := finder.DatastoreList(ctx, "*")
	if err != nil {
		return err
	}
	sort.Slice(stores, func(i, j int) bool { return stores[i].Name() < stores[j].Name() })
	ds := stores[0]

	for n, p := range plans {
		if err := applyPlan(ctx, c, finder, dc, ds, p, n); err != nil {
			return fmt.Errorf("%q: %s", p.name, err)
		}
	}
	return nil
}

func waitTask(t *object.Task, err error) (types.AnyType, error) {
	if err != nil {
		return nil, err
	}
	info, err := t.WaitForResult(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	return info.Result, nil
}

// createVM makes a powered-off BIOS VM with a pvscsi controller and a
// vmxnet3 NIC, named safe, in the datacenter's VM folder.
func createVM(ctx context.Context, c *vim25.Client, finder *find.Finder, dc *object.Datacenter,
	ds *object.Datastore, safe string) (*simulator.VirtualMachine, error) {
	var like *simulator.VirtualMachine
	for _, e := range simulator.Map.All("VirtualMachine") {
		if vm, ok := e.(*simulator.VirtualMachine); ok && (like == nil || vm.Name < like.Name) {
			like = vm
		}
	}
	if like == nil || like.ResourcePool == nil || like.Runtime.Host == nil {
		return nil, fmt.Errorf("the model has no VM to take a resource pool and host from")
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, err
	}
	devices := object.VirtualDeviceList{}
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return nil, err
	}
	devices = append(devices, scsi)
	if net, err := finder.Network(ctx, "VM Network"); err == nil {
		backing, err := net.EthernetCardBackingInfo(ctx)
		if err != nil {
			return nil, err
		}
		nic, err := devices.CreateEthernetCard("vmxnet3", backing)
		if err != nil {
			return nil, err
		}
		devices = append(devices, nic)
	}
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return nil, err
	}
	spec := types.VirtualMachineConfigSpec{
		Name:         safe,
		GuestId:      "debian12_64Guest",
		NumCPUs:      1,
		MemoryMB:     1024,
		Firmware:     string(types.GuestOsDescriptorFirmwareTypeBios),
		Annotation:   "A real disk behind a simulated VM (h2k-vcsim -vm-disk)",
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", ds.Name())},
		DeviceChange: change,
	}
	pool := object.NewResourcePool(c, *like.ResourcePool)
	host := object.NewHostSystem(c, *like.Runtime.Host)
	res, err := waitTask(folders.VmFolder.CreateVM(ctx, spec, pool, host))
	if err != nil {
		return nil, fmt.Errorf("creating the VM: %s", err)
	}
	ref, ok := res.(types.ManagedObjectReference)
	if !ok {
		return nil, fmt.Errorf("creating the VM: no VM in the task's result")
	}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil, fmt.Errorf("creating the VM: %s is not a VM", ref.Value)
	}
	return vm, nil
}

// vmFolder is the VM's folder on its datastore ("web01" of
// "[LocalDS_0] web01/web01.vmx").
func vmFolder(vm *simulator.VirtualMachine) (string, error) {
	p := vm.Config.Files.VmPathName
	i := strings.Index(p, "] ")
	if !strings.HasPrefix(p, "[") || i < 0 {
		return "", fmt.Errorf("odd vmPathName %q", p)
	}
	return filepath.Dir(p[i+2:]), nil
}

func applyPlan(ctx context.Context, c *vim25.Client, finder *find.Finder, dc *object.Datacenter,
	ds *object.Datastore, p *vmDiskPlan, n int) error {
	svm := findVM(p.name)
	if svm == nil {
		if len(p.chains) == 0 {
			return fmt.Errorf("no such VM (a -vm-mac VM needs a -vm-disk or to exist)")
		}
		var err error
		safe := p.name
		// A long name (a 4 KiB one in the hostile-name tests) is no
		// folder name either: the file system refuses it.
		if !safeName.MatchString(safe) || len(safe) > 64 {
			safe = fmt.Sprintf("h2k-vm-%d", n)
		}
		if svm, err = createVM(ctx, c, finder, dc, ds, safe); err != nil {
			return err
		}
	}
	vm := object.NewVirtualMachine(c, svm.Self)

	if p.mac != "" {
		simulator.Map.WithLock(svm, func() {
			for _, d := range svm.Config.Hardware.Device {
				if card, ok := d.(types.BaseVirtualEthernetCard); ok {
					e := card.GetVirtualEthernetCard()
					e.MacAddress = p.mac
					e.AddressType = string(types.VirtualEthernetCardMacTypeManual)
					// The slot VMware gives the first NIC: the guest
					// knows it as ens192.
					e.SlotInfo = &types.VirtualDevicePciBusSlotInfo{PciSlotNumber: 192}
					break
				}
			}
		})
	}
	if len(p.chains) == 0 {
		return nil
	}

	folder, err := vmFolder(svm)
	if err != nil {
		return err
	}
	dsDir := ds.Name()
	localDir := filepath.Join(datastoreDir(dsDir), folder)
	if err := os.MkdirAll(localDir, 0755); err != nil {
		return err
	}
	dsPath := func(local string) string {
		return fmt.Sprintf("[%s] %s/%s", ds.Name(), folder, filepath.Base(local))
	}
	for _, chain := range p.chains {
		for _, link := range chain {
			for _, f := range append([]string{link.descriptor}, link.extents...) {
				if err := placeFile(f, filepath.Join(localDir, filepath.Base(f))); err != nil {
					return err
				}
			}
		}
	}

	// The disks at depth d: backings down from chain[d] to the base.
	var ctrlKey int32 = -1
	simulator.Map.WithLock(svm, func() {
		for _, d := range svm.Config.Hardware.Device {
			if s, ok := d.(types.BaseVirtualSCSIController); ok {
				ctrlKey = s.GetVirtualSCSIController().Key
				break
			}
		}
	})
	if ctrlKey == -1 {
		return fmt.Errorf("the VM has no SCSI controller")
	}
	dsRef := ds.Reference()
	makeDisks := func(depth int) []types.BaseVirtualDevice {
		var out []types.BaseVirtualDevice
		for i, chain := range p.chains {
			var backing *types.VirtualDiskFlatVer2BackingInfo
			for d := 0; d <= depth; d++ {
				b := &types.VirtualDiskFlatVer2BackingInfo{
					VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
						FileName: dsPath(chain[d].descriptor), Datastore: &dsRef,
					},
					DiskMode:        string(types.VirtualDiskModePersistent),
					ThinProvisioned: types.NewBool(true),
					Uuid:            fmt.Sprintf("6000C29%d-0000-0000-0000-%012d", i, d),
					Parent:          backing,
				}
				switch chain[d].kind {
				case "VMFSSPARSE", "SPARSE":
					b.DeltaDiskFormat = "redoLogFormat"
				case "SESPARSE":
					b.DeltaDiskFormat = "seSparseFormat"
				}
				backing = b
			}
			unit := int32(i)
			if unit >= 7 {
				unit++
			}
			capacity := chain[len(chain)-1].capacity
			out = append(out, &types.VirtualDisk{
				VirtualDevice: types.VirtualDevice{
					Key:           int32(2000 + i),
					DeviceInfo:    &types.Description{Label: fmt.Sprintf("Hard disk %d", i+1), Summary: fmt.Sprintf("%d KB", capacity/1024)},
					Backing:       backing,
					ControllerKey: ctrlKey,
					UnitNumber:    &unit,
				},
				CapacityInKB:    capacity / 1024,
				CapacityInBytes: capacity,
			})
		}
		return out
	}
	// Replace the VM's disks (a fresh slice each time, so that a
	// snapshot's saved configuration keeps the disks it was taken with).
	setDisks := func(depth int) {
		simulator.Map.WithLock(svm, func() {
			var keep []types.BaseVirtualDevice
			for _, d := range svm.Config.Hardware.Device {
				if _, ok := d.(*types.VirtualDisk); !ok {
					keep = append(keep, d)
				}
			}
			svm.Config.Hardware.Device = append(keep, makeDisks(depth)...)
		})
	}
	depth := len(p.chains[0])
	for d := 0; d < depth-1; d++ {
		setDisks(d)
		if _, err := waitTask(vm.CreateSnapshot(ctx, fmt.Sprintf("snapshot %d", d+1), "", false, false)); err != nil {
			return fmt.Errorf("snapshot %d: %s", d+1, err)
		}
	}
	setDisks(depth - 1)

	// layoutEx: the VM's other files, then the chain's files; each disk's
	// chain base first.
	simulator.Map.WithLock(svm, func() {
		var files []types.VirtualMachineFileLayoutExFileInfo
		var key int32
		for _, f := range svm.LayoutEx.File {
			if f.Type != string(types.VirtualMachineFileLayoutExFileTypeDiskDescriptor) &&
				f.Type != string(types.VirtualMachineFileLayoutExFileTypeDiskExtent) {
				files = append(files, f)
				if f.Key >= key {
					key = f.Key + 1
				}
			}
		}
		add := func(local, kind string) int32 {
			size := fileSize(local)
			files = append(files, types.VirtualMachineFileLayoutExFileInfo{
				Key: key, Name: dsPath(local), Type: kind, Size: size, UniqueSize: size,
				Accessible: types.NewBool(true),
			})
			key++
			return key - 1
		}
		var layouts []types.VirtualMachineFileLayoutExDiskLayout
		for i, chain := range p.chains {
			l := types.VirtualMachineFileLayoutExDiskLayout{Key: int32(2000 + i)}
			for _, link := range chain {
				unit := types.VirtualMachineFileLayoutExDiskUnit{}
				unit.FileKey = append(unit.FileKey, add(link.descriptor, string(types.VirtualMachineFileLayoutExFileTypeDiskDescriptor)))
				for _, e := range link.extents {
					unit.FileKey = append(unit.FileKey, add(e, string(types.VirtualMachineFileLayoutExFileTypeDiskExtent)))
				}
				l.Chain = append(l.Chain, unit)
			}
			layouts = append(layouts, l)
		}
		svm.LayoutEx.File = files
		svm.LayoutEx.Disk = layouts
	})

	// The name last: the simulator names snapshot files after the VM.
	if svm.Name != p.name {
		if _, err := waitTask(vm.Rename(ctx, p.name)); err != nil {
			return fmt.Errorf("rename: %s", err)
		}
	}
	return nil
}

package main

// Changed Block Tracking for the simulator, which 0.24.2 lacks entirely.
//
// changeIds look like real ones, "52 xx .. xx-xx .. xx/N": a random prefix
// per disk and a sequence number.  Enabling CBT with ReconfigVM_Task stamps
// "/1" on every disk.  CreateSnapshot_Task freezes the VM's current
// changeId into the snapshot's own copy of the disks, records a digest of
// every block of the disk's flat file under that changeId, and advances the
// VM's changeId.  QueryChangedDiskAreas with changeId "*" reports the
// blocks that are not all zero; with a recorded changeId it reports the
// blocks whose digest differs from the record.  Each reply covers at most
// -cbt-span bytes, so clients must page with startOffset.
//
// The simulator does not freeze disk contents in snapshots (there are no
// delta disks), so "the disk as of a snapshot" is the flat file as it is
// now.  Tests write the data they want reported before taking snapshots.

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type cbtState struct {
	mu      sync.Mutex
	block   int64
	span    int64
	records map[string][]uint64
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var cbt = &cbtState{block: 65536, span: 1 << 30, records: make(map[string][]uint64)}

func recordKey(vm string, disk int32, changeId string) string {
	return vm + "|" + strconv.Itoa(int(disk)) + "|" + changeId
}

func sessionManagerRef() string {
	return simulator.Map.SessionManager().Reference().Value
}

// datastoreDir maps a datastore name to the local directory behind it.
func datastoreDir(name string) string {
	for _, e := range simulator.Map.All("Datastore") {
		if d, ok := e.(*simulator.Datastore); ok && d.Name == name {
			return d.Info.GetDatastoreInfo().Url
		}
	}
	return ""
}

// flatFile is the local file holding a disk's data: the "-flat.vmdk" next
// to the descriptor when there is one, else the named file.
func flatFile(fileName string) string {
	if !strings.HasPrefix(fileName, "[") {
		return ""
	}
	i := strings.Index(fileName, "] ")
	if i < 0 {
		return ""
	}
	dir := datastoreDir(fileName[1:i])
	if dir == "" {
		return ""
	}
	p := dir + "/" + fileName[i+2:]
	if strings.HasSuffix(p, ".vmdk") {
		flat := strings.TrimSuffix(p, ".vmdk") + "-flat.vmdk"
		if _, err := os.Stat(flat); err == nil {
			return flat
		}
	}
	return p
}

// digests returns one digest per block of the file from block first to
// block last (exclusive); 0 stands for an all-zero block or one past the
// end of the file.
func digests(path string, first, last int64) []uint64 {
	out := make([]uint64, last-first)
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	buf := make([]byte, cbt.block)
	zero := make([]byte, cbt.block)
	for b := first; b < last; b++ {
		n, _ := f.ReadAt(buf, b*cbt.block)
		if n <= 0 {
			break
		}
		if bytes.Equal(buf[:n], zero[:n]) {
			continue
		}
		// Two hardware-assisted CRCs make a 64-bit digest several times
		// faster than FNV, which matters at 4 GiB disks; the low bit set
		// keeps 0 for "all zero".
		hi := uint64(crc32.Checksum(buf[:n], castagnoli))
		lo := uint64(crc32.ChecksumIEEE(buf[:n]))
		out[b-first] = hi<<32 | lo | 1
	}
	return out
}

func diskCapacity(d *types.VirtualDisk) int64 {
	if d.CapacityInBytes > 0 {
		return d.CapacityInBytes
	}
	return d.CapacityInKB * 1024
}

// backingField returns the addressable ChangeId and FileName fields of a
// disk backing, for every backing type that has them.
func backingField(d *types.VirtualDisk, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(d.Backing)
	if v.Kind() != reflect.Ptr || v.IsNil() {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return reflect.Value{}, false
	}
	return f, true
}

func newChangeIdPrefix() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] = 0x52
	var s strings.Builder
	for i, c := range b {
		switch {
		case i == 8:
			s.WriteByte('-')
		case i > 0:
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}

func disks(devices []types.BaseVirtualDevice) []*types.VirtualDisk {
	var out []*types.VirtualDisk
	for _, d := range devices {
		if disk, ok := d.(*types.VirtualDisk); ok {
			out = append(out, disk)
		}
	}
	return out
}

// stampVM sets or clears the changeIds of a VM's disks after a reconfigure.
func stampVM(vm *simulator.VirtualMachine) {
	simulator.Map.WithLock(vm, func() {
		on := vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
		for _, d := range disks(vm.Config.Hardware.Device) {
			f, ok := backingField(d, "ChangeId")
			if !ok {
				continue
			}
			if !on {
				f.SetString("")
			} else if f.String() == "" {
				f.SetString(newChangeIdPrefix() + "/1")
			}
		}
	})
}

// copyDisk gives a snapshot its own copy of a disk and its backing, so that
// advancing the VM's changeId leaves the snapshot's frozen.
func copyDisk(d *types.VirtualDisk) *types.VirtualDisk {
	c := *d
	v := reflect.ValueOf(d.Backing)
	if v.Kind() == reflect.Ptr && !v.IsNil() {
		nb := reflect.New(v.Elem().Type())
		nb.Elem().Set(v.Elem())
		c.Backing = nb.Interface().(types.BaseVirtualDeviceBackingInfo)
	}
	return &c
}

// stampSnapshot freezes the VM's changeIds into a new snapshot, records the
// disks' block digests under them, and advances the VM's changeIds.
func stampSnapshot(vm *simulator.VirtualMachine, snap *simulator.VirtualMachineSnapshot) {
	simulator.Map.WithLock(vm, func() {
		if vm.Config.ChangeTrackingEnabled == nil || !*vm.Config.ChangeTrackingEnabled {
			return
		}
		devices := make([]types.BaseVirtualDevice, len(snap.Config.Hardware.Device))
		for i, d := range snap.Config.Hardware.Device {
			if disk, ok := d.(*types.VirtualDisk); ok {
				devices[i] = copyDisk(disk)
			} else {
				devices[i] = d
			}
		}
		snap.Config.Hardware.Device = devices

		for _, d := range disks(vm.Config.Hardware.Device) {
			id, ok := backingField(d, "ChangeId")
			name, ok2 := backingField(d, "FileName")
			if !ok || !ok2 || id.String() == "" {
				continue
			}
			cur := id.String()
			blocks := (diskCapacity(d) + cbt.block - 1) / cbt.block
			rec := digests(flatFile(name.String()), 0, blocks)
			cbt.mu.Lock()
			cbt.records[recordKey(vm.Self.Value, d.Key, cur)] = rec
			cbt.mu.Unlock()

			slash := strings.LastIndexByte(cur, '/')
			n, err := strconv.Atoi(cur[slash+1:])
			if slash < 0 || err != nil {
				continue
			}
			id.SetString(cur[:slash+1] + strconv.Itoa(n+1))
		}
	})
}

// afterTask stamps changeIds once a ReconfigVM_Task or CreateSnapshot_Task
// the simulator ran (synchronously) has succeeded.
func afterTask(method string, req *request, answer []byte) {
	vm, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: req.This}).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	var res struct {
		Returnval string `xml:"Body>CreateSnapshot_TaskResponse>returnval"`
		Task      string `xml:"Body>ReconfigVM_TaskResponse>returnval"`
	}
	if xml.Unmarshal(answer, &res) != nil {
		return
	}
	taskRef := res.Returnval
	if method == "ReconfigVM_Task" {
		taskRef = res.Task
	}
	task, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "Task", Value: taskRef}).(*simulator.Task)
	if !ok || task.Info.State != types.TaskInfoStateSuccess {
		return
	}
	switch method {
	case "ReconfigVM_Task":
		stampVM(vm)
	case "CreateSnapshot_Task":
		ref, ok := task.Info.Result.(types.ManagedObjectReference)
		if !ok {
			return
		}
		if snap, ok := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot); ok {
			stampSnapshot(vm, snap)
		}
	}
}

type changedArea struct {
	Start  int64 `xml:"start"`
	Length int64 `xml:"length"`
}

type diskChangeInfo struct {
	XMLName     xml.Name      `xml:"returnval"`
	StartOffset int64         `xml:"startOffset"`
	Length      int64         `xml:"length"`
	ChangedArea []changedArea `xml:"changedArea"`
}

func queryChangedDiskAreas(w http.ResponseWriter, req *request) {
	vmRef := types.ManagedObjectReference{Type: "VirtualMachine", Value: req.This}
	vm, ok := simulator.Map.Get(vmRef).(*simulator.VirtualMachine)
	if !ok {
		writeFault(w, "ManagedObjectNotFound", "The object '"+req.This+"' has already been deleted or has not been completely created",
			`<obj type="VirtualMachine">`+xmlText(req.This)+`</obj>`)
		return
	}

	var devices []types.BaseVirtualDevice
	var cbtOn bool
	simulator.Map.WithLock(vm, func() {
		devices = vm.Config.Hardware.Device
		cbtOn = vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
		if req.Snapshot != "" {
			if snap, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: req.Snapshot}).(*simulator.VirtualMachineSnapshot); ok {
				devices = snap.Config.Hardware.Device
			} else {
				devices = nil
			}
		}
	})
	if req.Snapshot != "" && devices == nil {
		writeFault(w, "ManagedObjectNotFound", "The object '"+req.Snapshot+"' has already been deleted or has not been completely created",
			`<obj type="VirtualMachineSnapshot">`+xmlText(req.Snapshot)+`</obj>`)
		return
	}

	var disk *types.VirtualDisk
	for _, d := range disks(devices) {
		if d.Key == req.DeviceKey {
			disk = d
		}
	}
	if disk == nil {
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: deviceKey", "<invalidProperty>deviceKey</invalidProperty>")
		return
	}
	name, _ := backingField(disk, "FileName")
	if !cbtOn {
		writeFault(w, "FileFault", "Error caused by file "+name.String(), "<file>"+xmlText(name.String())+"</file>")
		return
	}
	capacity := diskCapacity(disk)
	if req.StartOffset < 0 || req.StartOffset >= capacity {
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: startOffset", "<invalidProperty>startOffset</invalidProperty>")
		return
	}

	end := req.StartOffset + cbt.span
	if end > capacity {
		end = capacity
	}
	first := req.StartOffset / cbt.block
	last := (end + cbt.block - 1) / cbt.block
	cur := digests(flatFile(name.String()), first, last)

	var base []uint64
	if req.ChangeId != "*" {
		cbt.mu.Lock()
		rec, ok := cbt.records[recordKey(vm.Self.Value, disk.Key, req.ChangeId)]
		cbt.mu.Unlock()
		if !ok {
			// A real host answers a changeId it has no record of (from
			// another disk, or from before a CBT reset) with FileFault.
			writeFault(w, "FileFault", "Error caused by file "+name.String()+": unknown changeId", "<file>"+xmlText(name.String())+"</file>")
			return
		}
		base = rec
	}

	info := diskChangeInfo{StartOffset: req.StartOffset, Length: end - req.StartOffset}
	for b := first; b < last; b++ {
		var old uint64
		if base != nil {
			old = 0
			if b < int64(len(base)) {
				old = base[b]
			}
		}
		if cur[b-first] == old {
			continue
		}
		s, e := b*cbt.block, (b+1)*cbt.block
		if s < req.StartOffset {
			s = req.StartOffset
		}
		if e > end {
			e = end
		}
		n := len(info.ChangedArea)
		if n > 0 && info.ChangedArea[n-1].Start+info.ChangedArea[n-1].Length == s {
			info.ChangedArea[n-1].Length += e - s
		} else {
			info.ChangedArea = append(info.ChangedArea, changedArea{Start: s, Length: e - s})
		}
	}

	out, err := xml.Marshal(info)
	if err != nil {
		writeFault(w, "SystemError", err.Error(), "<reason>"+xmlText(err.Error())+"</reason>")
		return
	}
	writeSOAP(w, http.StatusOK, `<QueryChangedDiskAreasResponse xmlns="urn:vim25">`+string(out)+`</QueryChangedDiskAreasResponse>`)
}

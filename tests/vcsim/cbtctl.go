package main

// What the vs-cbt tests need from the simulator beyond change tracking
// itself (cbt.go): VMs with several disks of chosen sizes, snapshot tasks
// and queries that fail on demand, a snapshot creation whose answer is
// held back (so a test can kill the client between CreateSnapshot_Task
// and its result), a CBT reset, and a count of the bytes the datastore
// /folder interface served (so a test can bound what a client fetched).
//
// Start-up flags set the same switches as the control endpoint:
//
//	-cbt-disks VM=SIZE[,SIZE...]  give VM one disk per SIZE (bytes, a
//	                              multiple of 1024), disk1.vmdk, disk2.vmdk...
//	-fail-snapshot-create VM      CreateSnapshot_Task on VM ends in error
//	-fail-snapshot-remove VM      RemoveSnapshot_Task of VM's snapshots fails
//	-fail-cbt-query VM            QueryChangedDiskAreas on VM is a fault
//
// POST /h2k/control?OP=VM (several at once allowed), OP one of
// fail-create, fail-remove, fail-query, hold-create (the answer to the
// next CreateSnapshot_Task is held until "release-hold" or two minutes),
// release-hold, clear (every switch of VM off), reset-cbt (new changeId
// UUIDs on VM's disks, as a real host does when tracking is reset),
// independent / persistent (the diskMode of VM's first disk),
// slow-folder=BYTES (serve /folder GETs at that many bytes a second, 0 for
// full speed, so that a test can kill a client half-way through).
// GET /h2k/folder-bytes gives {"bytes":N,"gets":N}: body bytes served by
// GET on /folder (ranged or not) since the start.

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type nameSet struct {
	mu    sync.Mutex
	names map[string]bool
}

func newNameSet() *nameSet { return &nameSet{names: make(map[string]bool)} }

func (s *nameSet) String() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.names {
		out = append(out, n)
	}
	return strings.Join(out, ",")
}

func (s *nameSet) Set(name string) error {
	s.mu.Lock()
	s.names[name] = true
	s.mu.Unlock()
	return nil
}

func (s *nameSet) del(name string) {
	s.mu.Lock()
	delete(s.names, name)
	s.mu.Unlock()
}

func (s *nameSet) has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[name]
}

// diskSpecs is -cbt-disks: VM name -> disk capacities.
type diskSpecs map[string][]int64

func (d diskSpecs) String() string { return "" }

func (d diskSpecs) Set(s string) error {
	eq := strings.LastIndexByte(s, '=')
	if eq <= 0 {
		return fmt.Errorf("want VM=SIZE[,SIZE...], not %q", s)
	}
	var sizes []int64
	for _, f := range strings.Split(s[eq+1:], ",") {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n <= 0 || n%1024 != 0 {
			return fmt.Errorf("%q: a size is a positive multiple of 1024 bytes", f)
		}
		sizes = append(sizes, n)
	}
	d[s[:eq]] = sizes
	return nil
}

type control struct {
	failCreate, failRemove, failQuery, holdCreate *nameSet
	disks                                         diskSpecs
	once                                          sync.Once
	hold                                          chan struct{}
	holdMu                                        sync.Mutex
	folderBytes, folderGets                       int64
	folderRate                                    int64 // bytes per second, 0: no limit
}

var ctl = &control{
	failCreate: newNameSet(),
	failRemove: newNameSet(),
	failQuery:  newNameSet(),
	holdCreate: newNameSet(),
	disks:      make(diskSpecs),
	hold:       make(chan struct{}),
}

func registerControlFlags() {
	flag.Var(ctl.disks, "cbt-disks", "VM=SIZE[,SIZE...]: give VM one disk per SIZE (bytes, multiple of 1024); repeatable")
	flag.Var(ctl.failCreate, "fail-snapshot-create", "CreateSnapshot_Task on this VM ends in error (repeatable)")
	flag.Var(ctl.failRemove, "fail-snapshot-remove", "RemoveSnapshot_Task of this VM's snapshots ends in error (repeatable)")
	flag.Var(ctl.failQuery, "fail-cbt-query", "QueryChangedDiskAreas on this VM is a fault (repeatable)")
}

func vmByName(name string) *simulator.VirtualMachine {
	for _, ref := range simulator.Map.All("VirtualMachine") {
		if vm, ok := ref.(*simulator.VirtualMachine); ok && vm.Name == name {
			return vm
		}
	}
	return nil
}

func vmByRef(value string) *simulator.VirtualMachine {
	vm, _ := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: value}).(*simulator.VirtualMachine)
	return vm
}

// applyDisks gives the VMs of -cbt-disks their disks: the first disk
// resized, the others copies of it with their own key, unit and file.
// It runs once, before the first request is served.
func applyDisks() {
	for name, sizes := range ctl.disks {
		vm := vmByName(name)
		if vm == nil {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			var first *types.VirtualDisk
			var rest []types.BaseVirtualDevice
			for _, d := range vm.Config.Hardware.Device {
				if disk, ok := d.(*types.VirtualDisk); ok {
					if first == nil {
						first = disk
					}
					continue
				}
				rest = append(rest, d)
			}
			if first == nil {
				return
			}
			name, ok := backingField(first, "FileName")
			if !ok {
				return
			}
			dir := name.String()[:strings.LastIndexByte(name.String(), '/')+1]
			devices := rest
			for i, size := range sizes {
				d := copyDisk(first)
				d.Key = first.Key + int32(i)
				unit := int32(i)
				if first.UnitNumber != nil {
					unit += *first.UnitNumber
				}
				if unit >= 7 {
					unit++ // the SCSI controller's own unit
				}
				d.UnitNumber = &unit
				d.CapacityInBytes = size
				d.CapacityInKB = size / 1024
				f, _ := backingField(d, "FileName")
				f.SetString(fmt.Sprintf("%sdisk%d.vmdk", dir, i+1))
				if u, ok := backingField(d, "Uuid"); ok {
					u.SetString(fmt.Sprintf("6000C29%d-0000-0000-0000-%012d", i, d.Key))
				}
				devices = append(devices, d)
			}
			vm.Config.Hardware.Device = devices
		})
	}
}

// resetCBT gives every disk of VM a new changeId UUID: changeIds from
// before no longer apply.
func resetCBT(vm *simulator.VirtualMachine) {
	simulator.Map.WithLock(vm, func() {
		for _, d := range disks(vm.Config.Hardware.Device) {
			if f, ok := backingField(d, "ChangeId"); ok && f.String() != "" {
				f.SetString(newChangeIdPrefix() + "/1")
			}
		}
	})
}

// serveControl answers the /h2k/ control URLs; false for anything else.
func serveControl(w http.ResponseWriter, r *http.Request) bool {
	ctl.once.Do(applyDisks)
	switch {
	case r.URL.Path == "/h2k/folder-bytes" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int64{
			"bytes": atomic.LoadInt64(&ctl.folderBytes),
			"gets":  atomic.LoadInt64(&ctl.folderGets),
		})
		return true
	case r.URL.Path == "/h2k/control" && r.Method == http.MethodPost:
	default:
		return false
	}
	for op, names := range r.URL.Query() {
		for _, name := range names {
			switch op {
			case "fail-create":
				ctl.failCreate.Set(name)
			case "fail-remove":
				ctl.failRemove.Set(name)
			case "fail-query":
				ctl.failQuery.Set(name)
			case "hold-create":
				ctl.holdCreate.Set(name)
			case "release-hold":
				ctl.holdMu.Lock()
				close(ctl.hold)
				ctl.hold = make(chan struct{})
				ctl.holdMu.Unlock()
			case "clear":
				ctl.failCreate.del(name)
				ctl.failRemove.del(name)
				ctl.failQuery.del(name)
				ctl.holdCreate.del(name)
			case "slow-folder":
				n, err := strconv.ParseInt(name, 10, 64)
				if err != nil || n < 0 {
					http.Error(w, "slow-folder wants bytes per second", http.StatusBadRequest)
					return true
				}
				atomic.StoreInt64(&ctl.folderRate, n)
			case "independent", "persistent":
				vm := vmByName(name)
				if vm == nil {
					http.Error(w, "no VM "+name, http.StatusNotFound)
					return true
				}
				mode := "persistent"
				if op == "independent" {
					mode = "independent_persistent"
				}
				simulator.Map.WithLock(vm, func() {
					if d := disks(vm.Config.Hardware.Device); len(d) > 0 {
						if f, ok := backingField(d[0], "DiskMode"); ok {
							f.SetString(mode)
						}
					}
				})
			case "reset-cbt":
				vm := vmByName(name)
				if vm == nil {
					http.Error(w, "no VM "+name, http.StatusNotFound)
					return true
				}
				resetCBT(vm)
			default:
				http.Error(w, "unknown operation "+op, http.StatusBadRequest)
				return true
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// countingWriter counts the body bytes of a /folder GET.
type countingWriter struct {
	http.ResponseWriter
}

func (c countingWriter) Write(b []byte) (int, error) {
	if rate := atomic.LoadInt64(&ctl.folderRate); rate > 0 {
		// Throttled: 16 KiB at a time, each after its share of a second.
		total := 0
		for len(b) > 0 {
			m := len(b)
			if m > 16384 {
				m = 16384
			}
			time.Sleep(time.Duration(int64(m) * int64(time.Second) / rate))
			n, err := c.ResponseWriter.Write(b[:m])
			atomic.AddInt64(&ctl.folderBytes, int64(n))
			total += n
			if err != nil {
				return total, err
			}
			b = b[m:]
		}
		return total, nil
	}
	n, err := c.ResponseWriter.Write(b)
	atomic.AddInt64(&ctl.folderBytes, int64(n))
	return n, err
}

func (c countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// countFolder wraps W when R is a GET on /folder.
func countFolder(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/folder") {
		return w
	}
	atomic.AddInt64(&ctl.folderGets, 1)
	return countingWriter{w}
}

// failedTask runs a task on OBJ that ends in error with MSG, as a real
// server's failed task does, and returns its moref.
func failedTask(obj *types.ManagedObjectReference, name, msg string) string {
	task := simulator.CreateTask(obj, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, &types.SystemError{Reason: msg}
	})
	ref := task.Run()
	simulator.Map.WithLock(task, func() {
		if task.Info.Error != nil {
			task.Info.Error.LocalizedMessage = msg
		}
	})
	return ref.Value
}

func taskAnswer(w http.ResponseWriter, method, task string) {
	writeSOAP(w, http.StatusOK, `<`+method+`Response xmlns="urn:vim25"><returnval type="Task">`+xmlText(task)+`</returnval></`+method+`Response>`)
}

// interceptCBT handles the snapshot and query methods of VMs the tests
// asked to fail or hold; false when the request goes on as usual.
func (f *front) interceptCBT(w http.ResponseWriter, r *http.Request, body []byte, method string, req *request) bool {
	switch method {
	case "CreateSnapshot_Task":
		vm := vmByRef(req.This)
		if vm == nil {
			return false
		}
		if ctl.failCreate.has(vm.Name) {
			ref := vm.Reference()
			taskAnswer(w, method, failedTask(&ref, "createSnapshot",
				"An error occurred while taking a snapshot: h2k-vcsim was told to fail it (fail-create)."))
			return true
		}
		if !ctl.holdCreate.has(vm.Name) {
			return false
		}
		ctl.holdCreate.del(vm.Name)
		rec := f.record(r, body)
		if rec.Code == http.StatusOK {
			afterTask(method, req, rec.Body.Bytes())
		}
		ctl.holdMu.Lock()
		hold := ctl.hold
		ctl.holdMu.Unlock()
		select {
		case <-hold:
		case <-time.After(2 * time.Minute):
		case <-r.Context().Done():
		}
		copyRecorder(w, rec)
		return true
	case "RemoveSnapshot_Task":
		snap, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: req.This}).(*simulator.VirtualMachineSnapshot)
		if !ok {
			return false
		}
		vm := vmByRef(snap.Vm.Value)
		if vm == nil || !ctl.failRemove.has(vm.Name) {
			return false
		}
		ref := snap.Reference()
		taskAnswer(w, method, failedTask(&ref, "removeSnapshot",
			"An error occurred while consolidating disks: h2k-vcsim was told to fail it (fail-remove)."))
		return true
	case "QueryChangedDiskAreas":
		vm := vmByRef(req.This)
		if vm == nil || !ctl.failQuery.has(vm.Name) {
			return false
		}
		writeFault(w, "FileFault", "Error caused by file: h2k-vcsim was told to fail QueryChangedDiskAreas (fail-query)", "<file>"+xmlText(vm.Name)+"</file>")
		return true
	}
	return false
}

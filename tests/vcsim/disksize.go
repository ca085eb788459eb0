package main

// -disk-size: give every VM's disks another capacity than the model's
// 1 MiB, so tests can put a disk of a realistic shape (big zero areas, a
// size that is not a multiple of the CBT block) behind a simulated VM.

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func setDiskSize(size int64) {
	for _, ref := range simulator.Map.All("VirtualMachine") {
		vm, ok := ref.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			for _, d := range vm.Config.Hardware.Device {
				if disk, ok := d.(*types.VirtualDisk); ok {
					disk.CapacityInKB = size / 1024
					disk.CapacityInBytes = size
				}
			}
		})
	}
}

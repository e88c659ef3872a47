package source

import "github.com/vmfsrecover/vmfsrecover/vmfs/disk"

// Disk is an opened SOURCE (see package disk).
type Disk = disk.Disk

// Transferrer is implemented by remote disks (see package disk).
type Transferrer = disk.Transferrer

package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// VMDK summarises a virtual disk.
type VMDK struct {
	Kind        string `json:"kind"` // descriptor, single-file sparse disk, raw, ...
	CreateType  string `json:"create_type,omitempty"`
	Capacity    int64  `json:"capacity"`
	Allocated   int64  `json:"allocated"` // bytes that hold data in some link of the chain
	Thin        bool   `json:"thin_provisioned,omitempty"`
	AdapterType string `json:"adapter_type,omitempty"`
	// Extents and Chain come from package vmdk: extents of every link
	// (newest first), links from the file opened down to the base.
	Extents []vmdk.ExtentInfo `json:"extents"`
	Chain   []vmdk.LinkInfo   `json:"chain"`
	// Missing lists the extent files and parents that were not found; the
	// summary then comes from a tolerant open where they read as zeros.
	Missing []string `json:"missing,omitempty"`
	// Table is the guest's partition table; nil when the disk has none,
	// and then WholeDiskFS names a file system that starts at sector 0.
	Table       *Table   `json:"partition_table,omitempty"`
	WholeDiskFS string   `json:"whole_disk_fs,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
	// Error says why the disk could not be opened at all.
	Error string `json:"error,omitempty"`
}

// Table is a guest partition table with the file system of each partition.
type Table struct {
	Scheme     string      `json:"scheme"`
	SectorSize int         `json:"sector_size"`
	Partitions []Partition `json:"partitions"`
}

// Partition is one guest partition and the file system found on it by
// signature ("" when none is recognised).
type Partition struct {
	partition.Partition
	FS string `json:"fs"`
}

// SummarizeVMDK opens the VMDK name of fsys through package vmdk and
// describes it. Problems are reported in the summary, never as an error.
func SummarizeVMDK(ctx context.Context, fsys fs.FS, name string, opts Options) *VMDK {
	s := &VMDK{Extents: []vmdk.ExtentInfo{}, Chain: []vmdk.LinkInfo{}}
	d, err := vmdk.OpenFS(fsys, name, &vmdk.Options{Tolerant: opts.Tolerant})
	if err != nil && errMissing(err) && !opts.Tolerant {
		// Open again tolerant to see the whole chain and every missing part.
		d, err = vmdk.OpenFS(fsys, name, &vmdk.Options{Tolerant: true})
	}
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer d.Close()
	info := d.Info()
	s.Kind, s.CreateType, s.Capacity = info.Kind, info.CreateType, info.Capacity
	s.Thin, s.AdapterType = info.Thin, info.AdapterType
	s.Extents, s.Chain = info.Extents, info.Chain
	for _, e := range info.Extents {
		if e.Format == "missing" {
			s.Missing = append(s.Missing, abs(e.File))
		}
	}
	if n := len(info.Chain); n > 0 && info.Chain[n-1].ParentHint != "" {
		s.Missing = append(s.Missing, "parent "+info.Chain[n-1].ParentHint)
	}
	if m, err := d.AllocationMap(); err == nil {
		s.Allocated = m.Total()
	} else {
		s.Warnings = append(s.Warnings, "allocation map: "+err.Error())
	}
	if err := ctx.Err(); err != nil {
		s.Warnings = append(s.Warnings, err.Error())
		return s
	}
	s.readTable(d, d.Size())
	s.Warnings = append(s.Warnings, d.Warnings()...)
	return s
}

// readTable reads the guest's partition table and the file system of each
// partition: a few sectors of the virtual disk.
func (s *VMDK) readTable(r io.ReaderAt, size int64) {
	t, err := partition.Read(r, size)
	switch {
	case errors.Is(err, partition.ErrNoTable):
		s.WholeDiskFS = partition.DetectFS(r, size)
		return
	case err != nil:
		s.Warnings = append(s.Warnings, fmt.Sprintf("partition table: %v", err))
		return
	}
	if len(t.Partitions) == 0 {
		// A boot sector of a file system on the whole disk (NTFS, FAT)
		// ends in 55 AA too and reads as an empty MBR.
		if fs := partition.DetectFS(r, size); fs != "" {
			s.WholeDiskFS = fs
			return
		}
	}
	s.Table = &Table{Scheme: string(t.Scheme), SectorSize: t.SectorSize, Partitions: []Partition{}}
	for _, p := range t.Partitions {
		s.Table.Partitions = append(s.Table.Partitions, Partition{Partition: p, FS: partition.DetectFS(p.Section(r), p.Size)})
	}
	for _, w := range t.Warnings {
		s.Warnings = append(s.Warnings, "partition table: "+w)
	}
}

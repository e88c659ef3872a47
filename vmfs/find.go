package vmfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// Candidate is a place on a disk where a VMFS extent starts: its LVM header
// sits at Offset + 1 MiB.
type Candidate struct {
	Disk   int        `json:"disk"`   // index of the disk in the list given to Find
	Offset int64      `json:"offset"` // byte offset of the extent (partition start) on the disk
	Size   int64      `json:"size"`   // bytes from Offset to the partition or disk end
	How    string     `json:"found_by"`
	Header *LVMHeader `json:"-"`
}

// FindOptions tune Find.
type FindOptions struct {
	// ProbeAll also probes every 1 MiB boundary of the disk for an LVM
	// header (when the partition table is lost and the usual starts fail).
	ProbeAll bool
}

// usualStarts are where VMFS partitions start when their table is lost:
// LBA 128 (VMFS3 on MBR) and LBA 2048 (VMFS5+ on GPT) (vmfs.md: "Where a volume starts").
var usualStarts = []int64{0, 128 * 512, 2048 * 512}

// Find looks for VMFS extents on one disk: through its MBR or GPT
// partitions, at its start (a bare partition image), at the usual
// starts, and with ProbeAll at every 1 MiB boundary.
func Find(r io.ReaderAt, size int64, opts FindOptions) ([]Candidate, []string, error) {
	var warnings []string
	seen := map[int64]bool{}
	var found []Candidate
	try := func(off, end int64, how string) {
		if seen[off] || off < 0 || off+lvmHeaderOffset+512 > size {
			return
		}
		seen[off] = true
		if !hasLVMMagic(r, off) {
			return
		}
		h, err := readLVMHeaderAt(r, off)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("LVM header at disk offset %#x (%s): %v", off+lvmHeaderOffset, how, err))
			return
		}
		found = append(found, Candidate{Offset: off, Size: end - off, How: how, Header: h})
	}
	table, err := partition.Read(r, size)
	switch {
	case err == nil:
		warnings = append(warnings, table.Warnings...)
		for _, p := range table.Partitions {
			try(p.Start, p.End(), fmt.Sprintf("%s partition %d (%s)", table.Scheme, p.Index, p.Type))
		}
	case !errors.Is(err, partition.ErrNoTable):
		warnings = append(warnings, fmt.Sprintf("partition table: %v", err))
	}
	for _, off := range usualStarts {
		how := "bare partition image"
		if off > 0 {
			how = fmt.Sprintf("probe at LBA %d", off/512)
		}
		try(off, size, how)
	}
	if opts.ProbeAll {
		for off := int64(1 << 20); off+lvmHeaderOffset < size; off += 1 << 20 {
			try(off, size, "probe at 1 MiB boundary")
		}
	}
	// A partition's extent ends where the next found one starts.
	sort.Slice(found, func(i, j int) bool { return found[i].Offset < found[j].Offset })
	for i := range found {
		if i+1 < len(found) && found[i].Offset+found[i].Size > found[i+1].Offset {
			found[i].Size = found[i+1].Offset - found[i].Offset
		}
	}
	return found, warnings, nil
}

func hasLVMMagic(r io.ReaderAt, off int64) bool {
	var b [4]byte
	_, err := readFull(r, b[:], off+lvmHeaderOffset)
	return err == nil && binary.LittleEndian.Uint32(b[:]) == lvmMagic
}

// VolumeSet is the extents of one volume found on the given disks.
type VolumeSet struct {
	UUID    UUID        `json:"lvm_uuid"`
	Extents []Candidate `json:"extents"`
	// Missing is the number of extents the LVM header expects but no disk
	// provided.
	Missing int `json:"missing_extents"`
}

// Group sorts candidates from several disks into volumes by LVM UUID.
// Extents that claim the same UUID but overlapping PE ranges are copies
// of one volume (a cloned LUN, an image taken twice), not a span: each
// copy becomes a volume of its own.
func Group(cands []Candidate) []VolumeSet {
	sorted := append([]Candidate(nil), cands...)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].Header.FirstPE < sorted[b].Header.FirstPE })
	var sets []VolumeSet
	for _, c := range sorted {
		placed := false
		for i := range sets {
			if sets[i].UUID == c.Header.VolumeUUID && !overlaps(sets[i], c) {
				sets[i].Extents = append(sets[i].Extents, c)
				placed = true
				break
			}
		}
		if !placed {
			sets = append(sets, VolumeSet{UUID: c.Header.VolumeUUID, Extents: []Candidate{c}})
		}
	}
	for i := range sets {
		s := &sets[i]
		if want := int(s.Extents[0].Header.NumDevs); want > len(s.Extents) {
			s.Missing = want - len(s.Extents)
		}
	}
	// Present volumes in the order their first extent was given.
	sort.SliceStable(sets, func(a, b int) bool {
		ea, eb := sets[a].Extents[0], sets[b].Extents[0]
		return ea.Disk < eb.Disk || ea.Disk == eb.Disk && ea.Offset < eb.Offset
	})
	return sets
}

func overlaps(s VolumeSet, c Candidate) bool {
	for _, e := range s.Extents {
		if c.Header.FirstPE <= e.Header.LastPE && e.Header.FirstPE <= c.Header.LastPE {
			return true
		}
	}
	return false
}

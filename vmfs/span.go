package vmfs

import (
	"fmt"
	"sort"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Span is the logical volume that the devices of one LVM volume make
// together, assembled as Open does but without reading the file system on
// it: a deep scan's rebuild of a damaged spanned volume opens it with
// OpenRecovered.
type Span struct {
	lv *logicalVolume
	// Anomalies name the volume ranges no given device holds; they read
	// as zeros.
	Anomalies []string
}

// Assemble reads the LVM header of each device (a partition that starts
// with it) and assembles their volume; they must all belong to one.
// Extents of no given device read as zeros (see Span.Locate).
func Assemble(devs []Device) (*Span, error) {
	lv, _, anomalies, err := assembleDevices(devs, true)
	if err != nil {
		return nil, err
	}
	return &Span{lv: lv, Anomalies: anomalies}, nil
}

func (s *Span) ReadAt(p []byte, off int64) (int, error) { return s.lv.ReadAt(p, off) }
func (s *Span) Size() int64                             { return s.lv.size }

// Locate tells where volume offset vol lies: the index of its device in
// the slice given to Assemble and the offset on it. ok is false when no
// given device holds vol (a missing extent, or past the end).
func (s *Span) Locate(vol int64) (dev int, off int64, ok bool) {
	i := s.lv.segmentAt(vol)
	if vol < 0 || i == len(s.lv.segments) || s.lv.segments[i].dev == nil {
		return 0, 0, false
	}
	g := s.lv.segments[i]
	return g.devIndex, g.physical + vol - g.logical, true
}

// segmentAt returns the index of the segment holding volume offset vol,
// len(lv.segments) past the end.
func (lv *logicalVolume) segmentAt(vol int64) int {
	return sort.Search(len(lv.segments), func(i int) bool { return lv.segments[i].logical+lv.segments[i].length > vol })
}

// missing says whether volume offset vol lies in an extent no device
// holds.
func (lv *logicalVolume) missing(vol int64) bool {
	i := lv.segmentAt(vol)
	return i < len(lv.segments) && lv.segments[i].dev == nil
}

func (lv *logicalVolume) anyMissing() bool {
	for _, s := range lv.segments {
		if s.dev == nil {
			return true
		}
	}
	return false
}

// Warnings names the bytes of the file that lie in an extent missing from
// a volume opened with Options.Tolerant, which read as zeros; nil when
// none do (export.Warner).
func (f *File) Warnings() []string {
	lv, ok := f.v.lv.(*logicalVolume)
	if s, isSpan := f.v.lv.(*Span); isSpan {
		lv, ok = s.lv, true
	}
	if !ok || !lv.anyMissing() {
		return nil
	}
	var lost allocmap.Map
	whole, err := f.EachBlock(func(off, n, vol int64) {
		if lv.missing(vol) {
			lost = lost.Add(allocmap.Range{Off: off, Len: n})
		}
	})
	if err != nil {
		return []string{fmt.Sprintf("block map unreadable (%v): bytes in the missing extent not known", err)}
	}
	var out []string
	for _, r := range lost {
		out = append(out, fmt.Sprintf("bytes %d-%d lie in a missing extent of the volume and read as zeros", r.Off, r.End()))
	}
	if !whole {
		out = append(out, fmt.Sprintf("only the first %d blocks were checked for the missing extent", maxBlockWalk))
	}
	return out
}

// maxBlockWalk bounds the blocks EachBlock visits: 4 TiB of 1 MiB blocks,
// and a hostile descriptor's claims no further.
const maxBlockWalk = 1 << 22

// EachBlock calls fn, in file order, for each stored piece of the file: a
// block, or the part of it the file uses, with its file offset, length and
// volume offset. It stops after maxBlockWalk blocks and then returns
// false.
func (f *File) EachBlock(fn func(off, n, vol int64)) (whole bool, err error) {
	m, err := f.AllocationMap()
	if err != nil {
		return false, err
	}
	unit := max(f.Attributes().BlockSize, 512)
	walked := 0
	for _, r := range m {
		for off := r.Off / unit * unit; off < r.End(); off += unit {
			if walked == maxBlockWalk {
				return false, nil
			}
			walked++
			from := max(off, r.Off)
			if vol, hole, err := f.Locate(from); err == nil && !hole {
				fn(from, min(off+unit, r.End())-from, vol)
			}
		}
	}
	return true, nil
}

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

// badRanger is disk.BadRanger: a device that knows ranges it could not
// read (declared here, as vmfs reads any io.ReaderAt).
type badRanger interface{ BadRanges() allocmap.Map }

// lostIn calls fn for each part of volume range [vol, vol+n) whose bytes
// are lost: in an extent no device holds (missing), or in a range its
// device knows it could not read (disk.BadRanger: a ddrescue map, a dead
// RAID member).
func (lv *logicalVolume) lostIn(vol, n int64, fn func(vol, n int64, missing bool)) {
	for end := vol + n; vol < end; {
		i := lv.segmentAt(vol)
		if i == len(lv.segments) {
			return
		}
		g := lv.segments[i]
		stop := min(end, g.logical+g.length)
		if g.dev == nil {
			fn(vol, stop-vol, true)
		} else if br, ok := g.dev.(badRanger); ok {
			phys := g.physical + vol - g.logical
			for _, r := range br.BadRanges().Window(phys, stop-vol) {
				fn(vol+r.Off, r.Len, false)
			}
		}
		vol = stop
	}
}

// anyLost says whether any byte of the volume is lost (see lostIn).
func (lv *logicalVolume) anyLost() bool {
	for _, s := range lv.segments {
		if s.dev == nil {
			return true
		}
		if br, ok := s.dev.(badRanger); ok && len(br.BadRanges().Window(s.physical, s.length)) > 0 {
			return true
		}
	}
	return false
}

// Warnings names the bytes of the file that are lost and read as zeros:
// those in an extent missing from a volume opened with Options.Tolerant,
// and those in ranges a device could not read (disk.BadRanger); nil when
// none are (export.Warner).
func (f *File) Warnings() []string {
	lv, ok := f.v.lv.(*logicalVolume)
	if s, isSpan := f.v.lv.(*Span); isSpan {
		lv, ok = s.lv, true
	}
	if !ok || !lv.anyLost() {
		return nil
	}
	var missing, bad allocmap.Map
	whole, err := f.EachBlock(func(off, n, vol int64) {
		lv.lostIn(vol, n, func(v, k int64, isMissing bool) {
			r := allocmap.Range{Off: off + v - vol, Len: k}
			if isMissing {
				missing = missing.Add(r)
			} else {
				bad = bad.Add(r)
			}
		})
	})
	if err != nil {
		return []string{fmt.Sprintf("block map unreadable (%v): which bytes are lost is not known", err)}
	}
	var out []string
	for _, r := range missing {
		out = append(out, fmt.Sprintf("bytes %d-%d lie in a missing extent of the volume and read as zeros", r.Off, r.End()))
	}
	for _, r := range bad {
		out = append(out, fmt.Sprintf("bytes %d-%d lay in unreadable sectors of the source and read as zeros", r.Off, r.End()))
	}
	if !whole {
		out = append(out, fmt.Sprintf("only the first %d blocks were checked for lost bytes", maxBlockWalk))
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

// Package allocmap describes which byte ranges of a disk or file hold data.
//
// Every reader in vmfsrecover (a VMDK virtual disk, a VMFS file) can say
// where its data is, so that export writes holes as holes and a scan skips
// what was never written: a thin 2 TB disk then costs what it holds.
package allocmap

import (
	"fmt"
	"sort"
)

// Range is a run of bytes: Len bytes starting at Off.
type Range struct {
	Off int64 `json:"offset"`
	Len int64 `json:"length"`
}

// End is the offset just past the range.
func (r Range) End() int64 { return r.Off + r.Len }

// Map is a list of ranges sorted by offset, without overlaps and with
// touching ranges merged. The zero value is an empty map.
type Map []Range

// Mapper is implemented by readers that know where their data is.
type Mapper interface {
	// AllocationMap returns the ranges that hold data; everything else reads
	// as zeros.
	AllocationMap() (Map, error)
}

// Add appends r, which must not start before the end of the last range,
// merging it with the last range when they touch. Empty ranges are ignored.
func (m Map) Add(r Range) Map {
	if r.Len <= 0 {
		return m
	}
	if n := len(m); n > 0 && m[n-1].End() == r.Off {
		m[n-1].Len += r.Len
		return m
	}
	return append(m, r)
}

// Normalize sorts ranges, merges overlapping and touching ones and drops
// empty ones. Use it when ranges arrive out of order.
func Normalize(rs []Range) Map {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Off < rs[j].Off })
	var m Map
	for _, r := range rs {
		if r.Len <= 0 {
			continue
		}
		if n := len(m); n > 0 && r.Off <= m[n-1].End() {
			if r.End() > m[n-1].End() {
				m[n-1].Len = r.End() - m[n-1].Off
			}
			continue
		}
		m = append(m, r)
	}
	return m
}

// Total is the number of bytes the map covers.
func (m Map) Total() int64 {
	var n int64
	for _, r := range m {
		n += r.Len
	}
	return n
}

// Clip returns the part of m inside [0, size).
func (m Map) Clip(size int64) Map {
	var out Map
	for _, r := range m {
		if r.Off >= size {
			break
		}
		if r.End() > size {
			r.Len = size - r.Off
		}
		out = out.Add(r)
	}
	return out
}

// Validate reports whether m is sorted, non-overlapping and inside [0, size).
func (m Map) Validate(size int64) error {
	var prev int64
	for i, r := range m {
		if r.Off < prev || r.Len <= 0 || r.End() > size {
			return fmt.Errorf("allocation map: range %d [%d,+%d) out of order or outside [0,%d)", i, r.Off, r.Len, size)
		}
		prev = r.End()
	}
	return nil
}

// Window returns the part of m inside [off, off+n), moved to start at 0:
// the map of a section of the disk.
func (m Map) Window(off, n int64) Map {
	var out Map
	// m is sorted: start at the first range that ends past off, stop at
	// the first that starts past the window. Callers ask per block or per
	// read, so a long map (a ddrescue map of a failing disk) costs a
	// search, not a walk.
	i := sort.Search(len(m), func(i int) bool { return m[i].End() > off })
	for _, r := range m[i:] {
		if r.Off >= off+n {
			break
		}
		start, end := max(r.Off, off), min(r.End(), off+n)
		if start < end {
			out = out.Add(Range{Off: start - off, Len: end - start})
		}
	}
	return out
}

package vmdk

import (
	"fmt"
	"sort"
)

// runState says where the bytes of a run of an extent come from.
type runState uint8

const (
	runParent runState = iota // not in this link: the parent's bytes, or zeros without one
	runZero                   // zeros, hiding the parent
	runData                   // bytes stored in this link
)

// extent is the reader of one extent, addressed by offsets relative to the
// extent's start. Implementations are safe for concurrent use.
type extent interface {
	// lookup describes the run that starts at off: how many bytes n
	// (0 < n <= limit) share state st. For runData, read may be called on
	// any sub-range of the run.
	lookup(off, limit int64) (n int64, st runState, err error)
	// read fills p with the data of a runData run starting at off.
	read(p []byte, off int64) error
}

// zeroExtent is a ZERO extent, or what a tolerant open puts in place of an
// extent that cannot be read.
type zeroExtent struct{}

func (zeroExtent) lookup(off, limit int64) (int64, runState, error) { return limit, runZero, nil }
func (zeroExtent) read(p []byte, off int64) error                   { clear(p); return nil }

// failExtent fails every read with err: a device-backed or unsupported
// extent in strict mode.
type failExtent struct{ err error }

func (e failExtent) lookup(off, limit int64) (int64, runState, error) { return 0, runData, e.err }
func (e failExtent) read(p []byte, off int64) error                   { return e.err }

// flatExtent is a FLAT or VMFS extent: extent byte x is file byte
// start+x. Holes of the file (a thin VMFS file, a sparse local copy) are
// reported as zero runs so that dumps and maps skip them.
type flatExtent struct {
	f     *file
	start int64 // byte offset in f
	size  int64 // extent size in bytes
}

func (e *flatExtent) lookup(off, limit int64) (int64, runState, error) {
	fileOff := e.start + off
	if fileOff >= e.f.size {
		return limit, runZero, nil // beyond a short file: tolerant mode only (strict refuses at open)
	}
	if n := e.f.size - fileOff; limit > n {
		limit = n
	}
	m, ok := e.f.dataMap()
	if !ok {
		return limit, runData, nil
	}
	i := sort.Search(len(m), func(i int) bool { return m[i].End() > fileOff })
	if i == len(m) {
		return limit, runZero, nil
	}
	if r := m[i]; r.Off > fileOff {
		return min(limit, r.Off-fileOff), runZero, nil
	} else {
		return min(limit, r.End()-fileOff), runData, nil
	}
}

func (e *flatExtent) read(p []byte, off int64) error {
	fileOff := e.start + off
	n := len(p)
	if avail := e.f.size - fileOff; int64(n) > avail {
		n = int(max(avail, 0))
	}
	if n > 0 {
		if err := e.f.readFull(p[:n], fileOff, "flat extent data"); err != nil {
			return err
		}
	}
	clear(p[n:])
	return nil
}

// checkRange is the common bound check of header-declared regions.
func checkRange(f *file, structure string, off, n int64) error {
	if off < 0 || n < 0 || off > f.size || n > f.size-off {
		return corrupt(f.name, structure, off, "%d bytes at this offset pass the end of the %d-byte file", n, f.size)
	}
	return nil
}

func sectorsToBytes(s uint64) (int64, error) {
	if s > maxSectors {
		return 0, fmt.Errorf("sector number %d too large", s)
	}
	return int64(s) * 512, nil
}

// extendRun grows a run of a sparse extent that starts at off and already
// spans n bytes (to the end of its grain) over the following grains for as
// long as same accepts their table entries, up to limit bytes. table(i)
// returns the grain table of directory entry i, each covering cover bytes
// of grain bytes per entry; a missing table (nil) continues only a run of
// parent bytes. Tables are scanned in place, so a long run costs one
// lookup per table, not per grain.
func extendRun[T any](off, n, limit, cover, grain int64, parentRun bool, table func(int64) ([]T, error), same func(entry T, pos int64) bool) int64 {
	for n < limit {
		next := off + n
		t, err := table(next / cover)
		if err != nil {
			break
		}
		if t == nil {
			if !parentRun {
				break
			}
			n += cover - next%cover
			continue
		}
		for i := (next % cover) / grain; i < int64(len(t)) && n < limit; i++ {
			if !same(t[i], off+n) {
				return min(n, limit)
			}
			n += grain
		}
	}
	return min(n, limit)
}

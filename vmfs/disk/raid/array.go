package raid

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Member is one disk of an array: the member images, block devices or any
// other disk of package vmfs/disk.
type Member interface {
	io.ReaderAt
	Size() int64
}

// Errors of assembly and reading.
var (
	// ErrGeometry is a geometry that cannot describe an array of the members given.
	ErrGeometry = errors.New("raid: bad geometry")
	// ErrUnrecoverable is a range whose data is lost: more members are
	// missing or unreadable there than the level's redundancy covers.
	ErrUnrecoverable = errors.New("raid: data lost on too many members")
)

// Geometry is how an array lays data out on its members.
type Geometry struct {
	Level  Level
	Layout Layout // RAID 5 and 6 only
	Chunk  int64  // bytes; striped levels only
	// Offset is where the array's data starts on every member (an md 1.1 or
	// 1.2 superblock's data_offset; 0 for 0.90, 1.0 and most hardware RAID).
	Offset int64
	// Size is how many bytes of each member, from Offset, belong to the
	// array; 0 means all of the smallest member. Linear arrays ignore it.
	Size int64
}

// normal is g as metadata describes it to an assembler: a chunk only for
// the striped levels, no size for a linear array.
func (g Geometry) normal() Geometry {
	if !g.Level.striped() {
		g.Chunk = 0
	}
	if g.Level == Linear {
		g.Size = 0
	}
	return g
}

// Stats counts what reading an array took beyond plain reads.
type Stats struct {
	// Reconstructed is how many bytes were computed from redundancy
	// because their member is missing or failed to read.
	Reconstructed int64
	// ReadErrors counts member read errors that the redundancy covered.
	ReadErrors int64
	// ParityMismatches counts the rows in which CheckParity found parity
	// that does not match the data.
	ParityMismatches int64
}

// Array is an assembled array: an io.ReaderAt over the data of its members.
// It is safe for concurrent use.
type Array struct {
	g       Geometry
	members []Member // nil where a member is missing
	perDisk int64    // bytes of each member in the array (whole chunks when striped)
	size    int64
	starts  []int64        // linear: array offset where each member begins
	bad     []allocmap.Map // per member: ranges it reads as zeros because they are lost
	coders  sync.Map       // RAID 6: reedsolomon.Encoder by the Q exponents of a row's data (coder)

	reconstructed, readErrors, mismatches atomic.Int64
}

// New assembles members (in slot order, nil for a missing member) with
// geometry g.
func New(g Geometry, members []Member) (*Array, error) {
	a := &Array{g: g, members: members, bad: make([]allocmap.Map, len(members))}
	n := len(members)
	for i, m := range members {
		if br, ok := m.(badRanger); ok && m != nil {
			a.bad[i] = br.BadRanges()
		}
	}
	if g.Level == LevelUnknown {
		return nil, fmt.Errorf("%w: no level", ErrGeometry)
	}
	if n < g.Level.minMembers() {
		return nil, fmt.Errorf("%w: %s needs at least %d members, have %d", ErrGeometry, g.Level, g.Level.minMembers(), n)
	}
	if g.Offset < 0 || g.Size < 0 {
		return nil, fmt.Errorf("%w: negative offset or size", ErrGeometry)
	}
	if g.Level.striped() {
		if g.Chunk < 512 || g.Chunk > 1<<30 || g.Chunk&(g.Chunk-1) != 0 {
			return nil, fmt.Errorf("%w: chunk size %d is not a power of two from 512 bytes to 1 GiB", ErrGeometry, g.Chunk)
		}
	}
	if g.Level == RAID10 && g.Layout == LayoutUnknown {
		g.Layout = Near2
		a.g.Layout = Near2
	}
	if (g.Level.parity() > 0 || g.Level == RAID10) && !g.Layout.validFor(g.Level) {
		return nil, fmt.Errorf("%w: layout %s is not a %s layout", ErrGeometry, g.Layout, g.Level)
	}
	missing := 0
	for _, m := range members {
		if m == nil {
			missing++
		}
	}
	if g.Level == Linear {
		if missing > 0 {
			return nil, fmt.Errorf("%w: a linear array cannot miss a member", ErrGeometry)
		}
		for _, m := range members {
			a.starts = append(a.starts, a.size)
			a.size += linearData(m, g.Offset)
		}
		return a, nil
	}
	redundancy := map[Level]int{RAID0: 0, RAID1: n - 1, RAID5: 1, RAID6: 2, RAID10: 1}[g.Level]
	if missing > redundancy || missing == n {
		return nil, fmt.Errorf("%w: %d of %d members missing, %s survives %d", ErrUnrecoverable, missing, n, g.Level, redundancy)
	}
	per := int64(-1)
	for _, m := range members {
		if m != nil && (per < 0 || m.Size()-g.Offset < per) {
			per = m.Size() - g.Offset
		}
	}
	if g.Size > 0 {
		// Past the end of a member shorter than Size, reads fail and the
		// redundancy covers them, as md does.
		per = g.Size
	}
	if per < 0 {
		per = 0
	}
	if g.Level.striped() {
		per -= per % g.Chunk
	}
	a.perDisk = per
	switch g.Level {
	case RAID0:
		a.size = per * int64(n)
	case RAID1:
		a.size = per
	case RAID5, RAID6:
		a.size = per * int64(n-g.Level.parity())
	case RAID10:
		if g.Layout == Near2 {
			a.size = per * int64(n) / 2
			a.size -= a.size % g.Chunk
		} else { // each half of a member holds one copy
			a.size = per / g.Chunk / 2 * g.Chunk * int64(n)
		}
	}
	return a, nil
}

// linearData is how many bytes of member m, past offset, a linear array
// holds: what its md superblock says when it has one (0.90 and 1.0 keep
// the superblock after the data, and 1.x names the data size; counting
// those bytes would shift every later member), else all of them.
func linearData(m Member, offset int64) int64 {
	n := m.Size() - offset
	if sb, err := ReadMDSuper(m, m.Size()); err == nil && sb.Level == Linear {
		switch {
		case sb.Version == "0.90":
			n = min(n, sb.At-offset)
		case sb.Size > 0:
			n = min(n, sb.Size)
		}
	}
	return max(n, 0)
}

// Size is the array's size in bytes.
func (a *Array) Size() int64 { return a.size }

// Geometry is the geometry the array was assembled with.
func (a *Array) Geometry() Geometry { return a.g }

// Members is the number of member slots, missing ones included.
func (a *Array) Members() int { return len(a.members) }

// Stats returns the counters so far.
func (a *Array) Stats() Stats {
	return Stats{Reconstructed: a.reconstructed.Load(), ReadErrors: a.readErrors.Load(), ParityMismatches: a.mismatches.Load()}
}

// Close closes the members that have a Close method.
func (a *Array) Close() error {
	var first error
	for _, m := range a.members {
		if c, ok := m.(io.Closer); ok && m != nil {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// ReadAt reads the array's bytes at off.
func (a *Array) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("raid: negative offset %d", off)
	}
	if off >= a.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(len(p)) > a.size-off {
		p = p[:a.size-off]
	}
	if err := a.readSplit(p, off); err != nil {
		return 0, err
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// stripe is the unit readSplit cuts at: one row of chunks across the
// members (the array bytes one parity computation covers), or 1 MiB for
// arrays without chunks.
func (a *Array) stripe() int64 {
	n := int64(len(a.members))
	switch a.g.Level {
	case RAID0:
		return a.g.Chunk * n
	case RAID10:
		if a.g.Layout == Near2 {
			return a.g.Chunk * max(n/2, 1)
		}
		return a.g.Chunk * n
	case RAID5, RAID6:
		return a.g.Chunk * (n - int64(a.g.Level.parity()))
	}
	return 1 << 20
}

// readRange reads p at off, within the array, on the calling goroutine.
func (a *Array) readRange(p []byte, off int64) error {
	var err error
	switch a.g.Level {
	case Linear:
		err = a.readLinear(p, off)
	case RAID0, RAID10:
		err = a.readStriped(p, off)
	case RAID1:
		err = a.readMirror(p, off)
	case RAID5, RAID6:
		err = a.readParity(p, off)
	}
	return err
}

// readMember reads exactly len(p) bytes at member offset off (past
// Geometry.Offset).
func (a *Array) readMember(m int, p []byte, off int64) error {
	if a.members[m] == nil {
		return errMissing
	}
	pos := a.g.Offset + off
	if bad := a.bad[m]; len(bad) > 0 {
		i := sort.Search(len(bad), func(i int) bool { return bad[i].End() > pos })
		if i < len(bad) && bad[i].Off < pos+int64(len(p)) {
			return &MemberError{Member: m, Off: max(pos, bad[i].Off), Err: ErrBadRange}
		}
	}
	n, err := a.members[m].ReadAt(p, pos)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &MemberError{Member: m, Off: pos, Err: err}
}

var errMissing = errors.New("member missing")

// ErrBadRange is a member range that its disk lists as unreadable (a
// ddrescue map's bad sectors): it reads as zeros there, so the array
// takes it from the redundancy instead.
var ErrBadRange = errors.New("range listed as unreadable")

// badRanger is vmfs/disk's BadRanger: a disk that reads the ranges it
// lists as zeros, without error.
type badRanger interface {
	BadRanges() allocmap.Map
}

// MemberError is a failed read of one member.
type MemberError struct {
	Member int   // slot
	Off    int64 // byte offset on the member
	Err    error
}

func (e *MemberError) Error() string {
	return fmt.Sprintf("raid: member %d at %#x: %v", e.Member, e.Off, e.Err)
}

func (e *MemberError) Unwrap() error { return e.Err }

func (a *Array) readLinear(p []byte, off int64) error {
	for len(p) > 0 {
		i := len(a.starts) - 1
		for i > 0 && a.starts[i] > off {
			i--
		}
		end := a.size
		if i+1 < len(a.starts) {
			end = a.starts[i+1]
		}
		n := min(int64(len(p)), end-off)
		if err := a.readMember(i, p[:n], off-a.starts[i]); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

func (a *Array) readMirror(p []byte, off int64) error {
	var first error
	for m := range a.members {
		err := a.readMember(m, p, off)
		if err == nil {
			if first != nil {
				a.readErrors.Add(1)
				a.reconstructed.Add(int64(len(p)))
			}
			return nil
		}
		if first == nil || errors.Is(first, errMissing) {
			first = err
		}
	}
	return fmt.Errorf("%w: array offset %#x: %w", ErrUnrecoverable, off, first)
}

// readStriped reads RAID 0 and RAID 10, from the first copy of each chunk
// that reads (copyOf).
func (a *Array) readStriped(p []byte, off int64) error {
	ch := a.g.Chunk
	copies := 1
	if a.g.Level == RAID10 {
		copies = 2
	}
	for len(p) > 0 {
		c, in := off/ch, off%ch
		k := min(int64(len(p)), ch-in)
		var first error
		ok := false
		for i := range copies {
			m, pos := a.copyOf(c, i)
			err := a.readMember(m, p[:k], pos+in)
			if err == nil {
				if first != nil && !errors.Is(first, errMissing) {
					a.readErrors.Add(1)
				}
				if i > 0 {
					a.reconstructed.Add(k)
				}
				ok = true
				break
			}
			if first == nil {
				first = err
			}
		}
		if !ok {
			if copies == 1 {
				return first
			}
			return fmt.Errorf("%w: array offset %#x: %w", ErrUnrecoverable, off, first)
		}
		p, off = p[k:], off+k
	}
	return nil
}

// copyOf is where copy i of array chunk c lies: the member and the byte
// offset of the chunk on it (past Geometry.Offset). RAID 0 has one copy.
// RAID 10 as md(4) lays it out: near 2 numbers the members' chunks row by
// row and puts chunk c at c·2 and c·2+1; far 2 stripes the first copies
// over the first half of the members (chunk c on member c mod n, row
// c div n) and the second copies over the second half, one member on;
// offset 2 does the same row by row, each row followed by its copy.
func (a *Array) copyOf(c int64, i int) (member int, off int64) {
	n, ch := int64(len(a.members)), a.g.Chunk
	if a.g.Level == RAID0 {
		return int(c % n), c / n * ch
	}
	row, m := c/n, (c+int64(i))%n
	switch a.g.Layout {
	case Far2:
		return int(m), int64(i)*(a.perDisk/ch/2*ch) + row*ch
	case Offset2:
		return int(m), (2*row + int64(i)) * ch
	}
	pos := c*2 + int64(i)
	return int(pos % n), pos / n * ch
}

package disk

import (
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// WithBadRanges returns d with the ranges lost known to be unreadable (the
// areas a ddrescue mapfile marks as not rescued): they read as zeros,
// whatever the image holds there, and BadRanges lists them, so that what
// is read from d can name the bytes it lost instead of passing zeros off
// as data. Closing it closes d.
func WithBadRanges(d Disk, lost allocmap.Map) Disk {
	lost = lost.Clip(d.Size())
	if prev, ok := d.(BadRanger); ok {
		lost = allocmap.Normalize(append(append([]allocmap.Range(nil), prev.BadRanges()...), lost...))
	}
	return &lostDisk{Disk: d, lost: lost}
}

type lostDisk struct {
	Disk
	lost allocmap.Map
}

func (d *lostDisk) BadRanges() allocmap.Map { return d.lost }

func (d *lostDisk) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.Disk.ReadAt(p, off)
	for _, r := range d.lost.Window(off, int64(n)) {
		clear(p[r.Off:r.End()])
	}
	return n, err
}

// Section is the part [off, off+n) of d as a device of its own (a
// partition): like io.SectionReader, but what d knows of its bytes, its
// unreadable ranges, carries over.
type Section struct {
	*io.SectionReader
	d      io.ReaderAt
	off, n int64
}

// NewSection returns the section [off, off+n) of d.
func NewSection(d io.ReaderAt, off, n int64) *Section {
	return &Section{SectionReader: io.NewSectionReader(d, off, n), d: d, off: off, n: n}
}

// BadRanges are d's unreadable ranges inside the section, from its start.
func (s *Section) BadRanges() allocmap.Map {
	if br, ok := s.d.(BadRanger); ok {
		return br.BadRanges().Window(s.off, s.n)
	}
	return nil
}

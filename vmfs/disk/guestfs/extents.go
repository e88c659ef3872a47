package guestfs

import (
	"errors"
	"io"
	"io/fs"
	"sort"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Extent places Len bytes of a file, from byte Off of the file, at byte
// Dev of the reader the file system is read from.
type Extent struct{ Off, Dev, Len int64 }

// Extents reads a file whose bytes lie in extents, in the order of Off and
// without overlap. What no extent holds, up to Size, reads as zeros: holes,
// bytes past an exFAT file's valid length, the lost end of a deleted file.
type Extents struct {
	R    io.ReaderAt
	List []Extent
	Size int64
	// Fail is the error for a read of R at byte dev that failed with err:
	// the reader's *ondisk.FormatError.
	Fail func(dev int64, err error) error
}

var errNegativeOffset = errors.New("negative offset")

// find returns the index of the first extent that ends past off.
func (e *Extents) find(off int64) int {
	return sort.Search(len(e.List), func(i int) bool { return e.List[i].Off+e.List[i].Len > off })
}

// DevOff is the byte of R that holds byte off of the file; -1 where no
// extent holds it.
func (e *Extents) DevOff(off int64) int64 {
	i := e.find(off)
	if off < 0 || i == len(e.List) || e.List[i].Off > off {
		return -1
	}
	return e.List[i].Dev + off - e.List[i].Off
}

// ReadAt reads the file at off, each extent in one read of R.
func (e *Extents) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if off >= e.Size {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), e.Size-off)]
	for i, n := e.find(off), 0; n < len(want); i++ {
		at := off + int64(n)
		if i == len(e.List) || e.List[i].Off >= off+int64(len(want)) {
			clear(want[n:])
			break
		}
		x := e.List[i]
		if x.Off > at { // a hole before the extent
			clear(want[n : int64(n)+x.Off-at])
			n += int(x.Off - at)
			at = x.Off
		}
		chunk := min(int64(len(want)-n), x.Off+x.Len-at)
		dev := x.Dev + at - x.Off
		m, err := e.R.ReadAt(want[n:n+int(chunk)], dev)
		if int64(m) < chunk {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n + m, e.Fail(dev+int64(m), err)
		}
		n += m
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(p), nil
}

// AllocationMap is where the file's data lies; the rest reads as zeros.
func (e *Extents) AllocationMap() (allocmap.Map, error) {
	var m allocmap.Map
	for _, x := range e.List {
		m = m.Add(allocmap.Range{Off: x.Off, Len: x.Len})
	}
	return m.Clip(e.Size), nil
}

// AddRun appends n units of unit bytes at byte dev of R to the extents
// of a file, merging them into the last extent where they follow it on R;
// readers build the extents of a file from its clusters or blocks so.
func (e *Extents) AddRun(dev, n, unit int64) {
	if l := len(e.List) - 1; l >= 0 && e.List[l].Dev+e.List[l].Len == dev {
		e.List[l].Len += n * unit
		return
	}
	var at int64
	if l := len(e.List) - 1; l >= 0 {
		at = e.List[l].Off + e.List[l].Len
	}
	e.List = append(e.List, Extent{Off: at, Dev: dev, Len: n * unit})
}

// File is an open regular file over extents: an fs.File that also
// implements io.ReaderAt, io.Seeker and allocmap.Mapper.
type File struct {
	*io.SectionReader
	data *Extents
	info fs.FileInfo
}

// NewFile opens the file described by info whose bytes data reads.
func NewFile(data *Extents, info fs.FileInfo) *File {
	return &File{io.NewSectionReader(data, 0, data.Size), data, info}
}

func (f *File) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *File) Close() error               { return nil }

// AllocationMap is where the file's data lies; the rest reads as zeros.
func (f *File) AllocationMap() (allocmap.Map, error) { return f.data.AllocationMap() }

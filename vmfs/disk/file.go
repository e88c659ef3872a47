package disk

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// file is a file of a file system (local or remote) opened read-only.
type file struct {
	fs.File
	io.ReaderAt
	size int64

	mapOnce sync.Once
	alloc   allocmap.Map
	mapErr  error
}

func (f *file) Size() int64 { return f.size }

// OpenIn opens the file name of fsys read-only as a raw Disk. The files of
// fsys must implement io.ReaderAt, as os.DirFS's and a remote.FS's do. A
// block device reports no size: it comes from the file's own Size method
// (a remote file probes it) or from seeking to the end. The disk is an
// allocmap.Mapper: a local sparse file says where its data is (SEEK_DATA),
// a file that is itself a Mapper (a VMFS file) passes its map on, and
// anything else is all data.
func OpenIn(fsys fs.FS, name string) (Disk, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Disk, error) {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if fi.IsDir() {
		return fail(&fs.PathError{Op: "open", Path: name, Err: errIsDir})
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return fail(&fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported})
	}
	size := fi.Size()
	if s, ok := f.(interface{ Size() int64 }); ok {
		size = s.Size()
	} else if sk, ok := f.(io.Seeker); ok && fi.Mode()&fs.ModeDevice != 0 {
		if size, err = sk.Seek(0, io.SeekEnd); err != nil {
			return fail(&fs.PathError{Op: "size of device", Path: name, Err: err})
		}
	}
	if size == 0 {
		return fail(&fs.PathError{Op: "open", Path: name, Err: ErrEmpty})
	}
	return &file{File: f, ReaderAt: ra, size: size}, nil
}

// AllocationMap says where the file holds data (see OpenIn).
func (f *file) AllocationMap() (allocmap.Map, error) {
	f.mapOnce.Do(func() {
		if m, ok := f.File.(allocmap.Mapper); ok {
			f.alloc, f.mapErr = m.AllocationMap()
			f.alloc = f.alloc.Clip(f.size)
			return
		}
		if osf, ok := f.File.(*os.File); ok {
			if m, ok := allocmap.OfFile(osf, f.size); ok {
				f.alloc = m
				return
			}
		}
		f.alloc = allocmap.Map{{Off: 0, Len: f.size}}
	})
	return f.alloc, f.mapErr
}

package source

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// Disk is a read-only random-access source of known size.
type Disk interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// ErrEmpty reports a source of zero bytes (an empty file, or a block device
// whose size the kernel does not report).
var ErrEmpty = errors.New("source is empty")

// file is a file of a file system (local or remote) opened read-only.
type file struct {
	fs.File
	io.ReaderAt
	size int64
}

func (f *file) Size() int64 { return f.size }

// OpenIn opens the file name of fsys read-only as a raw Disk. The files of
// fsys must implement io.ReaderAt, as os.DirFS's and a remote.FS's do. A
// block device reports no size: it comes from the file's own Size method
// (a remote file probes it) or from seeking to the end.
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

var errIsDir = errors.New("is a directory, not a disk image")

// OpenPath opens the file system a SOURCE path lives in, for what reads
// files and folders rather than disks (netcfg): the local one, or over
// SFTP the host of an ssh:// SOURCE. name is the path in fsys, and
// closeFS ends the connection. An nbd:// SOURCE is a disk, not a path:
// the error is then ErrNotPath.
func OpenPath(spec string) (fsys fs.FS, name string, closeFS func() error, err error) {
	if !remote.IsRemote(spec) {
		abs, err := filepath.Abs(spec)
		if err != nil {
			return nil, "", nil, err
		}
		name = strings.TrimPrefix(filepath.ToSlash(abs), "/")
		if name == "" {
			name = "."
		}
		return os.DirFS("/"), name, func() error { return nil }, nil
	}
	t, ro, err := target(spec)
	if err != nil {
		return nil, "", nil, err
	}
	if t.Scheme != "ssh" {
		return nil, "", nil, fmt.Errorf("%s: %w", t, ErrNotPath)
	}
	rfs, name, err := dialPath(t, ro)
	if err != nil {
		return nil, "", nil, err
	}
	return rfs, name, rfs.Close, nil
}

// ErrNotPath: the SOURCE is a disk (an NBD export), not a path to a file
// or folder.
var ErrNotPath = errors.New("an NBD export is a whole disk, not a file or folder")

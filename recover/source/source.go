package source

import (
	"errors"
	"fmt"
	"io"
	"os"
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

// file is a local regular file or block device opened read-only.
type file struct {
	*os.File
	size int64
}

func (f *file) Size() int64 { return f.size }

// OpenFile opens a local image or block device read-only. Block devices
// report size 0 in stat, so the size comes from seeking to the end.
func OpenFile(path string) (Disk, error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory, not a disk image", path)
	}
	size := fi.Size()
	if fi.Mode()&os.ModeDevice != 0 {
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: size of device: %w", path, err)
		}
	}
	if size == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	return &file{File: f, size: size}, nil
}

// Package faultfs serves a disk image as one file through FUSE, with
// chosen byte ranges that fail to read with EIO as a failing drive's bad
// sectors do. Tests use it to give real tools (GNU ddrescue, and the
// tool's own commands through the ordinary file path) a source with
// unreadable sectors without device-mapper, which containers often lack.
//
// The file is served with direct I/O, so the kernel neither caches nor
// reads ahead: every read the reader makes reaches ReadAt with its own
// offset and length (split into pieces of at most 128 KiB), and fails
// exactly when it touches a bad range.
//
// The disk is served by a child process, the test binary run again
// (Start; the package's TestMain calls ServeIfAsked first): a process that
// reads a FUSE mount it serves itself can hang (the kernel waits on a
// request only that process can answer while it is busy with the read).
package faultfs

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Name is the file's name in the mount.
const Name = "disk"

// Available reports whether this machine can mount FUSE file systems
// (/dev/fuse exists); the error says why not.
func Available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("FUSE unavailable: %w", err)
	}
	return nil
}

// mount serves image (size bytes) at dir/disk; reads touching bad fail
// with EIO.
func mount(dir string, file *faultyFile) (*fuse.Server, error) {
	root := &fs.Inode{}
	server, err := fs.Mount(dir, root, &fs.Options{
		OnAdd: func(ctx context.Context) {
			root.AddChild(Name, root.NewPersistentInode(ctx, file, fs.StableAttr{Mode: syscall.S_IFREG}), true)
		},
		// DirectMount: as root, mount without the fusermount3 helper (falling
		// back to it as others must).
		MountOptions: fuse.MountOptions{FsName: "faultfs", Name: "faultfs", DirectMount: true},
	})
	if err != nil {
		return nil, fmt.Errorf("mounting the faulty disk at %s: %w", dir, err)
	}
	return server, nil
}

type faultyFile struct {
	fs.Inode
	image io.ReaderAt
	size  int64
	bad   allocmap.Map

	reads    atomic.Int64
	signalAt int64  // the read after which signal runs (0: never)
	signal   func() // tells the parent, then holds the read a while
}

var (
	_ fs.NodeGetattrer = (*faultyFile)(nil)
	_ fs.NodeOpener    = (*faultyFile)(nil)
	_ fs.NodeReader    = (*faultyFile)(nil)
)

func (f *faultyFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(f.size)
	return 0
}

func (f *faultyFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

func (f *faultyFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if f.reads.Add(1) == f.signalAt {
		f.signal()
	}
	end := min(off+int64(len(dest)), f.size)
	if off >= end {
		return fuse.ReadResultData(nil), 0
	}
	if len(f.bad.Window(off, end-off)) > 0 {
		return nil, syscall.EIO
	}
	n, err := f.image.ReadAt(dest[:end-off], off)
	if err != nil && err != io.EOF {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:n]), 0
}

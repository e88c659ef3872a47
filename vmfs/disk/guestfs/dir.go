package guestfs

import (
	"errors"
	"io"
	"io/fs"
	"time"
)

// Dir is an open directory whose entries are listed already: the fs.File
// that readers return from Open for a directory.
type Dir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	pos     int
}

// NewDir returns an open directory described by info holding entries.
func NewDir(info fs.FileInfo, entries []fs.DirEntry) *Dir {
	return &Dir{info: info, entries: entries}
}

func (d *Dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *Dir) Close() error               { return nil }

func (d *Dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}

// ReadDir returns the next n entries (all that are left when n <= 0), as
// fs.ReadDirFile says.
func (d *Dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.pos += len(rest)
	return rest, nil
}

// fileInfo is the fs.FileInfo of an entry of a read-only guest file
// system without owners and permissions (FAT, exFAT).
type fileInfo struct {
	name string
	size int64
	dir  bool
	mod  time.Time
	info *Info
}

// NewFileInfo describes a file (mode 0444) or a directory (0555) of a
// file system that keeps no permissions; Sys() returns info.
func NewFileInfo(name string, size int64, dir bool, mod time.Time, info *Info) fs.FileInfo {
	return &fileInfo{name, size, dir, mod, info}
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) ModTime() time.Time { return i.mod }
func (i *fileInfo) IsDir() bool        { return i.dir }
func (i *fileInfo) Sys() any           { return i.info }
func (i *fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

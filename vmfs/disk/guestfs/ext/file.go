package ext

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// fileInfo describes one entry; Sys() is a *guestfs.Info.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	sys   *guestfs.Info
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) Mode() fs.FileMode  { return i.mode }
func (i *fileInfo) ModTime() time.Time { return i.mtime }
func (i *fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *fileInfo) Sys() any           { return i.sys }

// infoOf describes a resolved node.
func (f *FS) infoOf(n *node) *fileInfo {
	name := n.name
	if name == "" {
		name = "."
	}
	if n.orphans {
		return &fileInfo{name: name, mode: fs.ModeDir | 0o555, sys: &guestfs.Info{FS: f.Type(), State: guestfs.Deleted}}
	}
	in := n.in
	info := &fileInfo{name: name, size: in.size, mode: in.fileMode(), mtime: in.mtime,
		sys: &guestfs.Info{FS: f.Type(), State: guestfs.Live, ID: uint64(in.num), Links: int(in.links),
			Owner: &guestfs.Owner{UID: in.uid, GID: in.gid}}}
	if n.deleted || in.deleted() {
		info.sys.State = guestfs.Deleted
		info.sys.Lost = f.lostBytes(in)
	}
	return info
}

var _ fs.ReadDirFile = (*dirFile)(nil)

// openInode maps inode in for reading (a regular file, a symbolic link, a
// device, a pipe: what has no directory entries): holes and unwritten
// runs read as zeros. A deleted inode whose map is gone or damaged reads
// as zeros (its Info.Lost says so).
func (f *FS) openInode(in *inode) (*guestfs.Extents, error) {
	lay, err := f.layoutOf(in)
	if err != nil {
		if !in.deleted() {
			return nil, err
		}
		lay = &layout{}
	}
	if lay.inline != nil {
		return &guestfs.Extents{R: bytes.NewReader(lay.inline), Size: in.size,
			List: []guestfs.Extent{{Len: int64(len(lay.inline))}}, Fail: func(_ int64, err error) error { return err }}, nil
	}
	e := &guestfs.Extents{R: io.NewSectionReader(f.r, 0, f.size), Size: in.size, Fail: func(dev int64, err error) error {
		if err == io.ErrUnexpectedEOF {
			return corrupt(inodeName(in.num), in.off, "data at byte %d lies past the end of the file system (%d bytes)", dev, f.size)
		}
		return err
	}}
	bs := f.sb.blockSize
	for _, r := range lay.runs {
		if !r.unwritten {
			e.List = append(e.List, guestfs.Extent{Off: r.lblk * bs, Dev: r.pblk * bs, Len: r.n * bs})
		}
	}
	return e, nil
}

// dirFile is an open directory.
type dirFile struct {
	f    *FS
	n    *node
	info *fileInfo
	ents []fs.DirEntry
	read bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.n.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.f.dirEntries(d.n)
		if err != nil {
			return nil, err
		}
		d.ents, d.read = ents, true
	}
	if count <= 0 {
		out := d.ents
		d.ents = nil
		return out, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n := min(count, len(d.ents))
	out := d.ents[:n]
	d.ents = d.ents[n:]
	return out, nil
}

package ext

import (
	"errors"
	"io"
	"io/fs"
	"sort"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
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

// file is an open regular file (or symbolic link, device, pipe: what has
// no directory entries).
type file struct {
	f    *FS
	in   *inode
	lay  *layout
	info *fileInfo
	pos  int64
}

var (
	_ io.ReaderAt     = (*file)(nil)
	_ io.Seeker       = (*file)(nil)
	_ allocmap.Mapper = (*file)(nil)
	_ fs.ReadDirFile  = (*dirFile)(nil)
)

var (
	errNegativeOffset = errors.New("negative offset")
	errSeekWhence     = errors.New("invalid whence")
)

// openInode maps inode in for reading. A deleted inode whose map is gone
// or damaged reads as zeros (its Info.Lost says so).
func (f *FS) openInode(in *inode) (*file, error) {
	lay, err := f.layoutOf(in)
	if err != nil {
		if !in.deleted() {
			return nil, err
		}
		lay = &layout{}
	}
	return &file{f: f, in: in, lay: lay}, nil
}

func (fl *file) Stat() (fs.FileInfo, error) { return fl.info, nil }
func (fl *file) Close() error               { return nil }

func (fl *file) Read(p []byte) (int, error) {
	n, err := fl.ReadAt(p, fl.pos)
	fl.pos += int64(n)
	return n, err
}

func (fl *file) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += fl.pos
	case io.SeekEnd:
		off += fl.in.size
	default:
		return 0, errSeekWhence
	}
	if off < 0 {
		return 0, errNegativeOffset
	}
	fl.pos = off
	return off, nil
}

// ReadAt reads the file's bytes at off: holes and unwritten runs as
// zeros, each run of physically contiguous blocks in one read.
func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	size := fl.in.size
	if off >= size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > size-off {
		want = p[:size-off]
	}
	if fl.lay.inline != nil {
		n := 0
		if off < int64(len(fl.lay.inline)) {
			n = copy(want, fl.lay.inline[off:])
		}
		clear(want[n:])
	} else if err := fl.readRuns(want, off); err != nil {
		return 0, err
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(want), nil
}

func (fl *file) readRuns(p []byte, off int64) error {
	bs := fl.f.sb.blockSize
	runs := fl.lay.runs
	// The first run that ends past off.
	i := sort.Search(len(runs), func(i int) bool { return (runs[i].lblk+runs[i].n)*bs > off })
	for len(p) > 0 {
		if i == len(runs) || runs[i].lblk*bs >= off+int64(len(p)) {
			clear(p)
			return nil
		}
		r := runs[i]
		if start := r.lblk * bs; start > off { // a hole before the run
			n := start - off
			clear(p[:n])
			p, off = p[n:], start
		}
		n := min(int64(len(p)), (r.lblk+r.n)*bs-off)
		if r.unwritten {
			clear(p[:n])
		} else {
			phys := r.pblk*bs + off - r.lblk*bs
			if phys+n > fl.f.size {
				return corrupt(inodeName(fl.in.num), fl.in.off, "data at byte %d lies past the end of the file system (%d bytes)", phys, fl.f.size)
			}
			if err := fl.f.readData(p[:n], phys); err != nil {
				return err
			}
		}
		p, off = p[n:], off+n
		i++
	}
	return nil
}

// AllocationMap is where the file's data lies; the rest reads as zeros.
func (fl *file) AllocationMap() (allocmap.Map, error) {
	if fl.lay.inline != nil {
		return allocmap.Map{}.Add(allocmap.Range{Off: 0, Len: fl.in.size}), nil
	}
	bs := fl.f.sb.blockSize
	var m allocmap.Map
	for _, r := range fl.lay.runs {
		if !r.unwritten {
			m = m.Add(allocmap.Range{Off: r.lblk * bs, Len: r.n * bs})
		}
	}
	return m.Clip(fl.in.size), nil
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

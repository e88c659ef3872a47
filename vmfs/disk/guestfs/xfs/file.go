package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

func beU32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func beU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// fileInfo describes an inode under one of its names.
type fileInfo struct {
	name string
	in   *inode
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.in.size }
func (fi fileInfo) Mode() fs.FileMode  { return fi.in.fileMode() }
func (fi fileInfo) ModTime() time.Time { return fi.in.mtime }
func (fi fileInfo) IsDir() bool        { return fi.in.isDir() }
func (fi fileInfo) Sys() any {
	return &guestfs.Info{FS: partition.FSXFS, State: guestfs.Live, ID: fi.in.ino, Links: int(fi.in.nlink)}
}

// dirEntry is a name in a directory; its inode is read when asked for,
// unless the directory records no file type.
type dirEntry struct {
	x  *FS
	d  dirent
	in *inode
}

func (de *dirEntry) Name() string { return de.d.name }
func (de *dirEntry) IsDir() bool  { return de.Type().IsDir() }

func (de *dirEntry) Type() fs.FileMode {
	if de.in != nil {
		return de.in.fileMode().Type()
	}
	switch de.d.ftype {
	case ftDir:
		return fs.ModeDir
	case ftSymlink:
		return fs.ModeSymlink
	case ftChr:
		return fs.ModeDevice | fs.ModeCharDevice
	case ftBlk:
		return fs.ModeDevice
	case ftFifo:
		return fs.ModeNamedPipe
	case ftSock:
		return fs.ModeSocket
	}
	return 0
}

func (de *dirEntry) Info() (fs.FileInfo, error) {
	in := de.in
	if in == nil {
		var err error
		if in, err = de.x.entryInode(de.d); err != nil {
			return nil, err
		}
	}
	return fileInfo{name: de.d.name, in: in}, nil
}

// The listings of the directories read last are kept decoded, sorted by
// name, so that resolving many paths in a large directory reads it once.
// They are bounded by what they weigh, names included: an entry is 32
// bytes and a name of up to 255, so the bound by entries alone (1 Mi
// before) could hold 290 MB. The listing read last is kept whatever it
// weighs: resolving the paths of its files one by one (an export) must
// not read it again for each, and a listing of it holds as much anyway.
const (
	cachedDirs      = 64
	cachedListBytes = 32 << 20
	direntBytes     = int(unsafe.Sizeof(dirent{}))
)

type cachedDir struct {
	ents []dirent // sorted by name
}

func newDirCache() *blockcache.LRU[uint64, *cachedDir] {
	return blockcache.NewWeightedLRU[uint64, *cachedDir](cachedDirs, cachedListBytes, listBytes)
}

// listBytes is about what a listing holds in memory.
func listBytes(d *cachedDir) int {
	n := 0
	for _, e := range d.ents {
		n += direntBytes + len(e.name)
	}
	return n
}

// cachedDir returns the listing of directory in, sorted by name.
func (x *FS) cachedDir(in *inode) (*cachedDir, error) {
	if d, ok := x.dirs.Get(in.ino); ok {
		return d, nil
	}
	ents, _, err := x.readDir(in)
	if err != nil {
		return nil, err
	}
	d := &cachedDir{ents: uniqueNames(ents)}
	x.dirs.Put(in.ino, d)
	return d, nil
}

// uniqueNames sorts a directory's entries by name. A name that damage
// gave to several entries names the first on disk; the others are listed
// as NAME~INODE (and dropped if even that is taken), so that a path names
// one file.
func uniqueNames(ents []dirent) []dirent {
	byName := func(a, b dirent) int { return strings.Compare(a.name, b.name) }
	slices.SortStableFunc(ents, byName)
	renamed := false
	for i := 1; i < len(ents); i++ {
		if ents[i].name == ents[i-1].name {
			// The first on disk moves along the run of its name and
			// keeps it; each later one is renamed.
			ents[i-1], ents[i] = ents[i], ents[i-1]
			ents[i-1].name = fmt.Sprintf("%s~%d", ents[i-1].name, ents[i-1].ino)
			renamed = true
		}
	}
	if !renamed {
		return ents
	}
	slices.SortStableFunc(ents, byName)
	return slices.CompactFunc(ents, func(a, b dirent) bool { return a.name == b.name })
}

// lookup finds name in directory in.
func (x *FS) lookup(in *inode, name string) (dirent, bool, error) {
	d, err := x.cachedDir(in)
	if err != nil {
		return dirent{}, false, err
	}
	i, ok := slices.BinarySearchFunc(d.ents, name, func(e dirent, n string) int { return strings.Compare(e.name, n) })
	if !ok {
		return dirent{}, false, nil
	}
	return d.ents[i], true, nil
}

// File is an open file that is not a directory: it reads through its
// extents, holes and unwritten extents as zeros.
type File struct {
	x   *FS
	n   node
	ext []extent
	pos int64
}

func (x *FS) openFile(n node) (*File, error) {
	f := &File{x: x, n: n}
	in := n.in
	if !in.isRegular() || in.size == 0 {
		return f, nil
	}
	if in.flags&diflagRealtime != 0 {
		return nil, unsupported(in.structName(), in.off, "data on the realtime device")
	}
	switch in.format {
	case fmtExtents, fmtBtree:
		ext, err := x.extentMap(in)
		if err != nil {
			return nil, err
		}
		f.ext = clipExtents(ext, in.size, f.x.sb.blockLog)
	default:
		return nil, corrupt(in.structName(), in.off, "regular file in data fork format %d", in.format)
	}
	return f, nil
}

// clipExtents drops what lies past the end of a file of size bytes (space
// preallocated beyond it), so that byte offsets of extents fit in int64.
func clipExtents(ext []extent, size int64, blockLog uint8) []extent {
	blocks := uint64((size-1)>>blockLog) + 1
	out := ext[:0]
	for _, e := range ext {
		if e.off >= blocks {
			break
		}
		e.count = min(e.count, blocks-e.off)
		out = append(out, e)
	}
	return out
}

func (f *File) Stat() (fs.FileInfo, error) { return fileInfo{name: f.n.name, in: f.n.in}, nil }
func (f *File) Close() error               { return nil }

func (f *File) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.size()
	default:
		return 0, errors.New("xfs: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("xfs: negative position")
	}
	f.pos = offset
	return offset, nil
}

func (f *File) size() int64 {
	if !f.n.in.isRegular() {
		return 0
	}
	return f.n.in.size
}

// ReadAt reads len(p) bytes at off, io.EOF past the end.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("xfs: negative offset")
	}
	size := f.size()
	if off >= size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > size-off {
		p = p[:size-off]
	}
	bs := f.x.sb.blockSize
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		lblk := uint64(pos >> f.x.sb.blockLog)
		i := findExtent(f.ext, lblk)
		var n int
		switch {
		case i == len(f.ext):
			n = len(p) - done
			clear(p[done:])
		case f.ext[i].off > lblk:
			n = int(min(int64(len(p)-done), int64(f.ext[i].off)*bs-pos))
			clear(p[done : done+n])
		default:
			e := f.ext[i]
			n = int(min(int64(len(p)-done), int64(e.end())*bs-pos))
			if e.unwritten {
				clear(p[done : done+n])
				break
			}
			k, err := f.x.r.ReadAt(p[done:done+n], e.phys+pos-int64(e.off)*bs)
			if k < n {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return done + k, err
			}
		}
		done += n
	}
	if done < want {
		return done, io.EOF
	}
	return done, nil
}

// AllocationMap returns the byte ranges of the file that hold written
// data; holes and unwritten extents read as zeros.
func (f *File) AllocationMap() (allocmap.Map, error) {
	var m allocmap.Map
	bs := f.x.sb.blockSize
	for _, e := range f.ext {
		if !e.unwritten {
			m = m.Add(allocmap.Range{Off: int64(e.off) * bs, Len: int64(e.count) * bs})
		}
	}
	return m.Clip(f.size()), nil
}

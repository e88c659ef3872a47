package fat

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

var _ guestfs.FS = (*FS)(nil)

// Open opens a file or directory.
func (f *FS) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e == nil || e.isDir() {
		list, err := f.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dir{info: f.info(e, path.Base(name)), entries: list}, nil
	}
	cl, err := f.fileClusters(e)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	info := f.info(e, path.Base(name))
	return &File{fs: f, info: info, clusters: cl, deleted: e.deleted}, nil
}

// fileClusters returns the clusters of a file. A deleted file has no
// chain left: it is taken as contiguous from its first cluster, as
// undelete tools do.
func (f *FS) fileClusters(e *entry) ([]uint32, error) {
	if e.size == 0 {
		return nil, nil
	}
	want := (e.size + f.clusterSize - 1) / f.clusterSize
	if e.deleted {
		n := min(want, int64(f.clusters+2)-int64(e.cluster))
		cl := make([]uint32, max(n, 0))
		for i := range cl {
			cl[i] = e.cluster + uint32(i)
		}
		return cl, nil
	}
	cl, err := f.chain(e.cluster, want)
	if err == nil && int64(len(cl)) < want {
		err = formatErr("cluster chain", e.off, ErrCorrupt, "%s: %d clusters for %d bytes", e.name, len(cl), e.size)
	}
	return cl, err
}

// lost counts the bytes of a deleted file that are not what they were:
// those in clusters a chain took since, and those past the end of the
// volume. A table of the used clusters before each one, made once, makes
// it cheap for every entry of a listing.
func (f *FS) lost(e *entry) int64 {
	if e.size == 0 {
		return 0
	}
	f.usedOnce.Do(func() {
		f.usedBefore = make([]uint32, f.clusters+3)
		for c := uint32(2); c < f.clusters+2; c++ {
			f.usedBefore[c+1] = f.usedBefore[c]
			if f.next(c) != 0 {
				f.usedBefore[c+1]++
			}
		}
	})
	cs := f.clusterSize
	want := (e.size + cs - 1) / cs
	end := min(int64(e.cluster)+want, int64(f.clusters+2)) // clusters on the volume: e.cluster..end-1
	if end <= int64(e.cluster) {
		return e.size
	}
	lost := e.size - (end-int64(e.cluster))*cs // past the volume's end
	used := int64(f.usedBefore[end] - f.usedBefore[e.cluster])
	lost = max(lost, 0) + used*cs
	if last := uint32(end - 1); end-int64(e.cluster) == want && f.next(last) != 0 {
		lost -= want*cs - e.size // the last cluster is partly the file's
	}
	return lost
}

// ReadDir lists a directory.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if e != nil && !e.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	list, err := f.list(e)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, len(list))
	for i, x := range list {
		out[i] = fs.FileInfoToDirEntry(f.info(x, x.name))
	}
	return out, nil
}

// Stat describes a file or directory.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return f.info(e, path.Base(name)), nil
}

// Lstat is Stat: FAT has no symbolic links.
func (f *FS) Lstat(name string) (fs.FileInfo, error) { return f.Stat(name) }

// ReadLink fails: FAT has no symbolic links.
func (f *FS) ReadLink(name string) (string, error) {
	if _, err := f.lookup("readlink", name); err != nil {
		return "", err
	}
	return "", &fs.PathError{Op: "readlink", Path: name, Err: fmt.Errorf("%w: FAT has no symbolic links", fs.ErrInvalid)}
}

type fileInfo struct {
	name string
	size int64
	dir  bool
	mod  time.Time
	sys  guestfs.Info
}

func (i *fileInfo) Name() string { return i.name }
func (i *fileInfo) Size() int64  { return i.size }
func (i *fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i *fileInfo) ModTime() time.Time { return i.mod }
func (i *fileInfo) IsDir() bool        { return i.dir }

// Sys returns the entry's *guestfs.Info; ID is its first cluster.
func (i *fileInfo) Sys() any { return &i.sys }

func (f *FS) info(e *entry, name string) *fileInfo {
	if e == nil {
		return &fileInfo{name: ".", dir: true, sys: guestfs.Info{FS: f.Type(), State: guestfs.Live, ID: uint64(f.rootCluster)}}
	}
	i := &fileInfo{name: name, size: e.size, dir: e.isDir(), mod: e.mod,
		sys: guestfs.Info{FS: f.Type(), State: guestfs.Live, ID: uint64(e.cluster)}}
	if e.deleted {
		i.sys.State = guestfs.Deleted
		if !i.dir {
			i.sys.Lost = f.lost(e)
		}
	}
	return i
}

type dir struct {
	info    *fileInfo
	entries []fs.DirEntry
	pos     int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *dir) Close() error { return nil }
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.pos += n
	return rest[:n], nil
}

// File is an open regular file; it also implements io.ReaderAt and
// io.Seeker.
type File struct {
	fs       *FS
	info     *fileInfo
	clusters []uint32
	deleted  bool
	pos      int64
}

func (f *File) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *File) Close() error               { return nil }

// ReadAt reads from the file's clusters. The part of a deleted file that
// lies past the end of the volume reads as zeros.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fat: negative offset")
	}
	cs, size := f.fs.clusterSize, f.info.size
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= size {
			return n, io.EOF
		}
		ci := at / cs
		in := at % cs
		chunk := min(int64(len(p)-n), cs-in, size-at)
		if ci >= int64(len(f.clusters)) {
			if !f.deleted {
				return n, formatErr("cluster chain", f.fs.fatOff, ErrCorrupt, "%s: chain ends before byte %d", f.info.name, at)
			}
			clear(p[n : n+int(chunk)])
			n += int(chunk)
			continue
		}
		m, err := f.fs.r.ReadAt(p[n:n+int(chunk)], f.fs.clusterOff(f.clusters[ci])+in)
		n += m
		if err != nil && !(err == io.EOF && int64(m) == chunk) {
			return n, formatErr("cluster", f.fs.clusterOff(f.clusters[ci]), ErrCorrupt, "%v", err)
		}
	}
	return n, nil
}

func (f *File) Read(p []byte) (int, error) {
	if f.pos >= f.info.size {
		return 0, io.EOF
	}
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += f.pos
	case io.SeekEnd:
		off += f.info.size
	}
	if off < 0 {
		return 0, errors.New("fat: seek before start")
	}
	f.pos = off
	return off, nil
}

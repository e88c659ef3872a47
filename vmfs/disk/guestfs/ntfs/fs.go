package ntfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// node is one entry of the tree: a file or directory under one of its
// names, or one of its alternate data streams (NAME:STREAM). It is both
// the fs.DirEntry and the fs.FileInfo of the entry.
type node struct {
	name    string
	id      int64 // MFT record; -1 for the orphan directory
	stream  string
	dir     bool
	link    bool
	deleted bool
	size    int64
	mtime   time.Time
	attrs   uint32 // file attributes of $STANDARD_INFORMATION
	links   int
	lost    int64
}

func (n *node) Name() string               { return n.name }
func (n *node) Size() int64                { return n.size }
func (n *node) ModTime() time.Time         { return n.mtime }
func (n *node) IsDir() bool                { return n.dir && !n.link }
func (n *node) Type() fs.FileMode          { return n.Mode().Type() }
func (n *node) Info() (fs.FileInfo, error) { return n, nil }
func (n *node) String() string             { return fs.FormatFileInfo(n) }

func (n *node) Mode() fs.FileMode {
	switch {
	case n.link:
		return fs.ModeSymlink | 0o777
	case n.dir:
		return fs.ModeDir | 0o755
	case n.attrs&fileReadOnly != 0:
		return 0o444
	}
	return 0o644
}

func (n *node) Sys() any {
	in := &guestfs.Info{FS: "NTFS", State: guestfs.Live, Links: n.links, Stream: n.stream, Lost: n.lost}
	if n.deleted {
		in.State = guestfs.Deleted
	}
	if n.id >= 0 {
		in.ID = uint64(n.id)
	}
	return in
}

// nodes returns the entries of a file record under name: the file and
// each of its alternate data streams.
func (v *FS) nodes(rec *record, name string, deleted bool) []*node {
	attrs, mtime := rec.standard()
	n := &node{name: name, id: rec.id, dir: rec.isDir(), deleted: deleted, mtime: mtime, attrs: attrs, links: max(1, len(rec.names()))}
	if _, ok, _ := v.linkTarget(rec, attrs); ok {
		n.link = true
	}
	out := []*node{n}
	for _, s := range rec.streamNames() {
		size, lost := v.streamSize(rec, s, deleted)
		if s == "" {
			if !n.dir {
				n.size, n.lost = size, lost
			}
			continue
		}
		out = append(out, &node{name: name + ":" + s, id: rec.id, stream: s, deleted: deleted, mtime: mtime, attrs: attrs, links: n.links, size: size, lost: lost})
	}
	return out
}

// streamSize returns the size of stream name of rec and, for a deleted
// file, the bytes of it whose clusters a live file holds now.
func (v *FS) streamSize(rec *record, name string, deleted bool) (size, lost int64) {
	for _, a := range rec.pieces(attrData, name) {
		if a.resident {
			return int64(len(a.content)), 0
		}
		if a.vcnStart == 0 {
			size = a.dataSize
		}
	}
	if deleted {
		lost = v.lostBytes(rec, name, size)
	}
	return size, lost
}

// validName reports whether a name on disk can be an io/fs path element.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// liveChildren lists directory rec from its index: each name of a live
// file, with its streams. Entries that do not match a live record (stale
// after a crash, or the record reused) and NTFS's own files are left out.
func (v *FS) liveChildren(rec *record) ([]*node, error) {
	ents, err := v.readIndex(rec)
	if err != nil {
		return nil, err
	}
	var out []*node
	seen := map[indexEntry]bool{}
	for _, e := range ents {
		if e.fn.namespace == namespaceDOS || e.id == rec.id || e.id < firstUser || seen[e] {
			continue
		}
		seen[e] = true
		if !validName(e.fn.name) {
			v.warn("%s: entry %q cannot be a path element; left out", rec.what(), e.fn.name)
			continue
		}
		child, err := v.record(e.id)
		if err != nil {
			v.warn("%s: entry %q: %v", rec.what(), e.fn.name, err)
			continue
		}
		if !child.inUse() || child.seq != e.seq || child.base != 0 {
			continue
		}
		// A directory has one name, so one parent: an entry naming a
		// directory that names another parent (a damaged or hostile index
		// pointing back up the tree) would make the tree a loop.
		if child.isDir() {
			if ns := child.names(); len(ns) == 0 || ns[0].parent != rec.id {
				v.warn("%s: entry %q names directory %s, whose parent is another; left out", rec.what(), e.fn.name, child.what())
				continue
			}
		}
		out = append(out, v.nodes(child, e.fn.name, false)...)
	}
	return out, nil
}

// children lists directory n, deleted entries included with
// Options.Deleted, sorted by name.
func (v *FS) children(n *node) (*dirList, error) {
	if d, ok := v.dirs.Get(n.id); ok {
		return d, nil
	}
	var out []*node
	if n.id >= 0 {
		rec, err := v.record(n.id)
		if err != nil {
			return nil, err
		}
		if !n.deleted {
			if out, err = v.liveChildren(rec); err != nil {
				return nil, err
			}
		}
	}
	if v.opts.Deleted {
		del, err := v.deletedTree()
		if err != nil {
			return nil, err
		}
		out = del.addChildren(v, out, n)
	}
	slices.SortFunc(out, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	d := newDirList(out)
	v.dirs.Put(n.id, d)
	return d, nil
}

func (v *FS) root() *node {
	return &node{name: ".", id: recordRoot, dir: true, links: 1}
}

// maxLinkHops bounds the symbolic links followed in one lookup.
const maxLinkHops = 40

// resolve finds the entry of a path. Symbolic links and junctions are
// followed (the last one only with follow) when their target is relative;
// one whose target leaves the volume (C:\...) stands for itself.
func (v *FS) resolve(op, name string, follow bool) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p := name
	for hops := 0; ; hops++ {
		n, rest, err := v.walk(p, follow)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if rest == "" {
			return n, nil
		}
		if hops == maxLinkHops {
			return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
		}
		p = rest
	}
}

// walk looks path p up, component by component. When it meets a link to
// follow, it returns the path to look up instead.
func (v *FS) walk(p string, follow bool) (*node, string, error) {
	cur := v.root()
	if p == "." {
		return cur, "", nil
	}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if !cur.IsDir() {
			return nil, "", fmt.Errorf("%s: not a directory", path.Join(parts[:i]...))
		}
		d, err := v.children(cur)
		if err != nil {
			return nil, "", err
		}
		next := d.lookup(part)
		if next == nil {
			return nil, "", fs.ErrNotExist
		}
		last := i == len(parts)-1
		if next.link && (!last || follow) {
			target, err := v.readLink(next)
			if err != nil {
				return nil, "", err
			}
			if rel, ok := relativeTarget(path.Join(parts[:i]...), target); ok {
				return nil, path.Join(append([]string{rel}, parts[i+1:]...)...), nil
			}
			if !last {
				return nil, "", fmt.Errorf("%s: link to %s outside the volume", path.Join(parts[:i+1]...), target)
			}
		}
		cur = next
	}
	return cur, "", nil
}

// relativeTarget joins a link's relative target to the link's directory;
// ok is false for a target outside the volume (absolute, a drive, a
// device path) or above its root.
func relativeTarget(dir, target string) (string, bool) {
	t := strings.ReplaceAll(target, `\`, "/")
	if t == "" || strings.HasPrefix(t, "/") || strings.Contains(t, ":") {
		return "", false
	}
	j := path.Join(dir, t)
	if j == ".." || strings.HasPrefix(j, "../") || j == "" {
		return "", false
	}
	return j, true
}

func (v *FS) readLink(n *node) (string, error) {
	rec, err := v.record(n.id)
	if err != nil {
		return "", err
	}
	attrs, _ := rec.standard()
	t, ok, err := v.linkTarget(rec, attrs)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fs.ErrInvalid
	}
	return t, nil
}

// Open opens the named file, following symbolic links; NAME:STREAM opens
// an alternate data stream. Files implement io.ReaderAt, io.Seeker and
// allocmap.Mapper, directories fs.ReadDirFile.
func (v *FS) Open(name string) (fs.File, error) {
	n, err := v.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.IsDir() {
		d, err := v.children(n)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return guestfs.NewDir(n, d.entries()), nil
	}
	f := &File{n: n}
	rec, err := v.record(n.id)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if n.stream == "" {
		if err := elsewhere(rec); err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
	pieces := rec.pieces(attrData, n.stream)
	if len(pieces) == 0 { // a link, or a file without data
		f.s = &stream{resident: []byte{}}
		return f, nil
	}
	what := rec.what() + " $DATA"
	if n.stream != "" {
		what += ":" + n.stream
	}
	if f.s, err = v.openStream(pieces, what); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// Stat returns information about the named file, following symbolic links.
func (v *FS) Stat(name string) (fs.FileInfo, error) { return v.resolve("stat", name, true) }

// Lstat is Stat without following a final symbolic link.
func (v *FS) Lstat(name string) (fs.FileInfo, error) { return v.resolve("lstat", name, false) }

// ReadLink returns the target of the named symbolic link or junction, as
// Windows shows it: relative targets with '/', absolute ones as stored.
func (v *FS) ReadLink(name string) (string, error) {
	n, err := v.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !n.link {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	t, err := v.readLink(n)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return t, nil
}

// ReadDir lists the named directory sorted by name.
func (v *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := v.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	d, err := v.children(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return d.entries(), nil
}

// File is an open file or stream; Open returns a guestfs.Dir for a
// directory.
type File struct {
	n   *node
	s   *stream
	off int64
}

var (
	_ io.ReaderAt     = (*File)(nil)
	_ io.Seeker       = (*File)(nil)
	_ allocmap.Mapper = (*File)(nil)
)

func (f *File) Stat() (fs.FileInfo, error) { return f.n, nil }
func (f *File) Close() error               { return nil }

func (f *File) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads the file's bytes at off; it is safe for concurrent use.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return f.s.ReadAt(p, off)
}

func (f *File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.n.size
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.n.name, Err: fs.ErrInvalid}
	}
	f.off = offset
	return offset, nil
}

// AllocationMap returns the ranges of the file that hold data: a sparse
// file's runs; the rest reads as zeros.
func (f *File) AllocationMap() (allocmap.Map, error) { return f.s.AllocationMap() }

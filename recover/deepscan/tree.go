package deepscan

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Provenance values.
const (
	Intact  = "intact"  // reached from the root directory as the volume is now
	Deleted = "deleted" // a descriptor the file system freed (or an earlier format's)
	Orphan  = "orphan"  // an allocated descriptor no directory reaches
	Carved  = "carved"  // a text file found by its content alone
)

// Finding describes where a recovered entry came from; it is the Sys() of
// every entry's fs.FileInfo, and export records its provenance.
type Finding struct {
	Kind       string   `json:"provenance"`
	Confidence float64  `json:"confidence"` // 0..1: how sure the content is the file's
	Anomalies  []string `json:"anomalies,omitempty"`
	DiskOffset int64    `json:"disk_offset"` // descriptor or text position on the source
	// NameFrom says where the name came from when no directory entry
	// named the file (VMFS6 zeroes a deleted file's entry): the file's own
	// content or a descriptor naming it (names.go).
	NameFrom string           `json:"name_from,omitempty"`
	VMFS     *vmfs.Attributes `json:"vmfs,omitempty"`
	// lost are the file's byte ranges that lay in unreadable sectors of
	// the source (each also named in Anomalies).
	lost allocmap.Map
}

// Provenance implements export.Provenancer.
func (f *Finding) Provenance() string { return f.Kind }

// Inode, Owner and Times implement listing.Metadata from the descriptor
// the entry was rebuilt from; a carved file has none and gives zeros.
func (f *Finding) Inode() uint64 {
	if f.VMFS == nil {
		return 0
	}
	return f.VMFS.Inode()
}

func (f *Finding) Owner() (uid, gid uint32) {
	if f.VMFS == nil {
		return 0, 0
	}
	return f.VMFS.Owner()
}

func (f *Finding) Times() (atime, mtime, ctime time.Time) {
	if f.VMFS == nil {
		return
	}
	return f.VMFS.Times()
}

// Warnings implements export.Warner: the anomalies met rebuilding the
// entry, such as the bytes that lay in unreadable sectors.
func (f *Finding) Warnings() []string { return f.Anomalies }

// content is what a recovered file reads from.
type content interface {
	io.ReaderAt
	AllocationMap() (allocmap.Map, error)
}

// Tree is the recovered view of a volume: an io/fs.FS (with ReadDirFS,
// StatFS, ReadLinkFS) whose files implement io.ReaderAt and
// allocmap.Mapper and whose FileInfo.Sys() is a *Finding.
type Tree struct {
	root *tnode
}

type tnode struct {
	name     string
	mode     fs.FileMode
	size     int64
	mtime    time.Time
	target   string
	finding  *Finding
	data     content
	children map[string]*tnode
}

func newTree() *Tree {
	return &Tree{root: &tnode{name: ".", mode: fs.ModeDir | 0o755, children: map[string]*tnode{}, finding: &Finding{Kind: Intact, Confidence: 1}}}
}

// mkdirAll returns the directory at p, creating missing ones with the
// given provenance. A file in the way keeps its name; the directory is
// then made as name~N.
func (t *Tree) mkdirAll(p string, f *Finding) *tnode {
	n := t.root
	if p == "." || p == "" {
		return n
	}
	for _, part := range strings.Split(p, "/") {
		c, ok := n.children[part]
		if !ok || c.children == nil {
			c = &tnode{name: part, mode: fs.ModeDir | 0o755, children: map[string]*tnode{}, finding: f}
			t.place(n, c)
		}
		n = c
	}
	return n
}

// add places n in directory dir under its name (or name~N when taken) and
// returns the path it got.
func (t *Tree) add(dir string, n *tnode) string {
	d := t.mkdirAll(dir, n.finding)
	t.place(d, n)
	return path.Join(dir, n.name)
}

// place stores n in directory d under its (made safe) name, or name~N.
func (t *Tree) place(d, n *tnode) {
	n.name = safeName(n.name)
	if _, taken := d.children[n.name]; taken {
		base := n.name
		for i := 1; ; i++ {
			n.name = base + "~" + itoa(i)
			if _, taken := d.children[n.name]; !taken {
				break
			}
		}
	}
	d.children[n.name] = n
}

// safeName makes a name from damaged metadata usable as one path element.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, s)
	switch s {
	case "", ".", "..":
		return "_" + s
	}
	return s
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

func (t *Tree) lookup(op, name string, follow bool) (*tnode, error) {
	return t.lookupDepth(op, name, follow, 0)
}

// lookupDepth resolves name, following at most 40 symbolic links in all.
func (t *Tree) lookupDepth(op, name string, follow bool, depth int) (*tnode, error) {
	if depth > 40 {
		return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
	}
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := t.root
	if name == "." {
		return n, nil
	}
	parts := strings.Split(name, "/")
	for i, part := range parts {
		c, ok := n.children[part]
		if !ok {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if c.mode&fs.ModeSymlink != 0 && (follow || i < len(parts)-1) {
			target := path.Join(path.Dir(strings.Join(parts[:i+1], "/")), c.target)
			if strings.HasPrefix(c.target, "/") || !fs.ValidPath(target) {
				return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("symbolic link leads outside the recovered tree")}
			}
			rest := strings.Join(parts[i+1:], "/")
			if rest != "" {
				target = path.Join(target, rest)
			}
			return t.lookupDepth(op, target, follow, depth+1)
		}
		n = c
	}
	return n, nil
}

// Open opens a file or directory, following symbolic links.
func (t *Tree) Open(name string) (fs.File, error) {
	n, err := t.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	return &treeFile{n: n}, nil
}

func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

func (t *Tree) ReadLink(name string) (string, error) {
	n, err := t.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.target, nil
}

func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := t.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return n.entries(), nil
}

func (n *tnode) entries() []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, fs.FileInfoToDirEntry(info{c}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Count returns how many entries of each provenance the tree holds.
func (t *Tree) Count() map[string]int {
	counts := map[string]int{}
	var walk func(*tnode)
	walk = func(n *tnode) {
		for _, c := range n.children {
			counts[c.finding.Kind]++
			walk(c)
		}
	}
	walk(t.root)
	return counts
}

type info struct{ n *tnode }

func (i info) Name() string       { return i.n.name }
func (i info) Size() int64        { return i.n.size }
func (i info) Mode() fs.FileMode  { return i.n.mode }
func (i info) ModTime() time.Time { return i.n.mtime }
func (i info) IsDir() bool        { return i.n.mode.IsDir() }
func (i info) Sys() any           { return i.n.finding }

type treeFile struct {
	n      *tnode
	off    int64
	dirPos int
	dir    []fs.DirEntry
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return info{f.n}, nil }
func (f *treeFile) Close() error               { return nil }

// Provenance implements export.Provenancer.
func (f *treeFile) Provenance() string { return f.n.finding.Kind }

func (f *treeFile) ReadAt(p []byte, off int64) (int, error) {
	if f.n.data == nil {
		return 0, &fs.PathError{Op: "read", Path: f.n.name, Err: errors.New("is a directory")}
	}
	if off >= f.n.size {
		return 0, io.EOF
	}
	var eof error
	if rest := f.n.size - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	n, err := f.n.data.ReadAt(p, off)
	if err == nil || (err == io.EOF && n == len(p)) {
		err = eof
	}
	return n, err
}

func (f *treeFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *treeFile) Seek(offset int64, whence int) (int64, error) {
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

func (f *treeFile) AllocationMap() (allocmap.Map, error) {
	if f.n.data == nil {
		return nil, nil
	}
	m, err := f.n.data.AllocationMap()
	return m.Clip(f.n.size), err
}

func (f *treeFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if f.n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: f.n.name, Err: errors.New("not a directory")}
	}
	if f.dir == nil {
		f.dir = f.n.entries()
	}
	rest := f.dir[f.dirPos:]
	if count <= 0 {
		f.dirPos = len(f.dir)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(count, len(rest))]
	f.dirPos += len(rest)
	return rest, nil
}

// sectionContent serves carved text straight from the source.
type sectionContent struct{ *io.SectionReader }

func (b sectionContent) AllocationMap() (allocmap.Map, error) {
	return allocmap.Map{}.Add(allocmap.Range{Off: 0, Len: b.Size()}), nil
}

package ext

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// FS is an ext2/3/4 file system, read-only: a guestfs.FS.
type FS struct {
	r      io.ReaderAt // file data, read straight
	meta   io.ReaderAt // inodes, directories, maps: through a cache
	size   int64
	sb     *superblock
	groups []group
	opts   guestfs.Options

	mu       sync.Mutex
	warnings []string
	dirs     *blockcache.LRU[uint32, []child] // listings cached, by weight

	delOnce sync.Once
	del     *deletedIndex
	delErr  error
}

var _ guestfs.FS = (*FS)(nil)

const (
	rootIno        = 2
	maxSymlinks    = 40
	metaCacheBytes = 8 << 20
	metaPage       = 64 << 10
)

// Open reads the ext2/3/4 file system that fills r (size bytes): its
// superblock, or the first intact backup when the primary is destroyed,
// and the group descriptors that follow it.
func Open(r io.ReaderAt, size int64, opts guestfs.Options) (*FS, error) {
	sb, at, primaryErr := findSuper(r, size)
	if sb == nil {
		return nil, primaryErr
	}
	f := &FS{
		r:    r,
		meta: blockcache.New(r, size, metaPage, metaCacheBytes, blockcache.Options{Name: "ext"}),
		size: size, sb: sb, opts: opts,
		dirs: newDirCache(),
	}
	if primaryErr != nil {
		f.warn(fmt.Sprintf("primary superblock unusable (%v); opened from the backup in block group %d at byte %d", primaryErr, sb.groupNr, at))
	}
	groups, err := readGroups(f.meta, sb, at, size)
	if err != nil {
		return nil, err
	}
	f.groups = groups
	if sb.compat&compatHasJournal != 0 && sb.incompat&incompatRecover != 0 {
		f.replay(at)
	}
	if sb.incompat&incompatEncrypt != 0 {
		f.warn("the file system has encryption enabled: encrypted files and names read as stored, undeciphered")
	}
	root, err := f.readInode(rootIno)
	if err != nil {
		return nil, err
	}
	if !root.isDir() {
		return nil, corrupt(inodeName(rootIno), root.off, "the root is not a directory (mode %#o)", root.mode)
	}
	return f, nil
}

// Type is ext2, ext3 or ext4, as partition.DetectFS names them.
func (f *FS) Type() string { return f.sb.variant }

// Warnings are what the reader worked around, each said once.
func (f *FS) Warnings() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.warnings...)
}

func (f *FS) warn(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.warnings {
		if w == msg {
			return
		}
	}
	if len(f.warnings) < 1000 {
		f.warnings = append(f.warnings, msg)
	}
}

// readMeta reads metadata at byte off through the cache.
func (f *FS) readMeta(b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > f.size {
		return corrupt("ext block", off, "%d bytes past the end of the file system (%d bytes)", len(b), f.size)
	}
	n, err := f.meta.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// inodeOff is the byte offset of inode n.
func (f *FS) inodeOff(n uint32) (int64, error) {
	if n == 0 || n > f.sb.inodes {
		return 0, corrupt(inodeName(n), -1, "inode number outside 1..%d", f.sb.inodes)
	}
	g := int64(n-1) / f.sb.inodesPer
	idx := int64(n-1) % f.sb.inodesPer
	return f.groups[g].inodeTable*f.sb.blockSize + idx*f.sb.inodeSize, nil
}

// readInode reads and decodes inode n.
func (f *FS) readInode(n uint32) (*inode, error) {
	off, err := f.inodeOff(n)
	if err != nil {
		return nil, err
	}
	b := make([]byte, f.sb.inodeSize)
	if err := f.readMeta(b, off); err != nil {
		return nil, err
	}
	return decodeInode(b, n, off)
}

// child is an entry of a directory as the tree shows it: its name there
// (a deleted entry whose name a live one holds is renamed), its inode.
type child struct {
	name    string
	ino     uint32
	deleted bool
	orphans bool // the OrphanDir at the root
}

// node is a resolved path: its inode and the inodes above it (a directory
// entry naming one of them would make a loop and is left out).
type node struct {
	name      string
	ino       uint32
	in        *inode
	deleted   bool
	orphans   bool // the OrphanDir itself
	ancestors []uint32
}

// children lists directory n, cached.
func (f *FS) children(n *node) ([]child, error) {
	if n.orphans {
		idx, err := f.deletedIndex()
		if err != nil {
			return nil, err
		}
		return idx.orphanChildren(), nil
	}
	if c, ok := f.dirs.Get(n.ino); ok {
		return c, nil
	}
	ents, err := f.readDirents(n.in, f.opts.Deleted)
	if err != nil && len(ents) == 0 {
		return nil, err
	}
	if err != nil {
		f.warn(err.Error())
	}
	names := guestfs.NewNames(nil)
	var out []child
	for _, e := range ents {
		if e.deleted || e.name == "." || e.name == ".." {
			continue
		}
		if name, ok := names.Take(e.name, false, 0); ok { // the same name twice: the first wins
			out = append(out, child{name: name, ino: e.ino})
		}
	}
	if f.opts.Deleted {
		seen := map[uint32]bool{}
		for _, e := range ents {
			if !e.deleted || seen[e.ino] {
				continue
			}
			in, err := f.readInode(e.ino)
			if err != nil || !in.deleted() || in.mode == 0 {
				continue
			}
			seen[e.ino] = true
			if name, ok := names.Take(e.name, true, uint64(e.ino)); ok {
				out = append(out, child{name: name, ino: e.ino, deleted: true})
			}
		}
		if n.ino == rootIno && len(n.ancestors) == 0 {
			idx, err := f.deletedIndex()
			if err != nil {
				return nil, err
			}
			if len(idx.orphans) > 0 {
				out = append(out, child{name: guestfs.OrphanDir, orphans: true})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	f.dirs.Put(n.ino, out)
	return out, nil
}

// The listings read last are kept decoded, bounded by what they weigh,
// names included. Bounded by 64 Ki entries before, a directory of more
// was not kept at all and was read again for each path resolved in it;
// the listing read last is now kept whatever it weighs.
const (
	cachedDirs      = 4096
	cachedListBytes = 32 << 20
	childBytes      = int(unsafe.Sizeof(child{}))
)

func newDirCache() *blockcache.LRU[uint32, []child] {
	return blockcache.NewWeightedLRU[uint32, []child](cachedDirs, cachedListBytes, listBytes)
}

// listBytes is about what a listing holds in memory.
func listBytes(l []child) int {
	n := 0
	for _, c := range l {
		n += childBytes + len(c.name)
	}
	return n
}

// errNotDir is the error for a path through something not a directory.
var errNotDir = errors.New("not a directory")

// resolve finds name, following symbolic links on the way (and at the
// end when follow is set), inside the file system only.
func (f *FS) resolve(op, name string, follow bool) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	perr := func(err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }
	var parts []string
	if name != "." {
		parts = strings.Split(name, "/")
	}
	for hops := 0; ; hops++ {
		if hops > maxSymlinks {
			return nil, perr(errors.New("too many levels of symbolic links"))
		}
		root, err := f.readInode(rootIno)
		if err != nil {
			return nil, perr(err)
		}
		cur := &node{name: ".", ino: rootIno, in: root}
		restart := false
		for i, p := range parts {
			if !cur.orphans && !cur.in.isDir() {
				return nil, perr(errNotDir)
			}
			kids, err := f.children(cur)
			if err != nil {
				return nil, perr(err)
			}
			k := sort.Search(len(kids), func(j int) bool { return kids[j].name >= p })
			if k == len(kids) || kids[k].name != p {
				return nil, perr(fs.ErrNotExist)
			}
			c := kids[k]
			next := &node{name: p, ino: c.ino, deleted: c.deleted, orphans: c.orphans, ancestors: append(append([]uint32(nil), cur.ancestors...), cur.ino)}
			if !c.orphans {
				if next.in, err = f.readInode(c.ino); err != nil {
					return nil, perr(err)
				}
				if next.in.isDir() && (c.ino == cur.ino || containsIno(cur.ancestors, c.ino)) {
					return nil, perr(corrupt(inodeName(cur.ino), -1, "directory entry %q loops back to inode %d", p, c.ino))
				}
			}
			if next.in != nil && next.in.isSymlink() && (i < len(parts)-1 || follow) {
				target, err := f.linkTarget(next.in)
				if err != nil {
					return nil, perr(err)
				}
				var base string
				if !strings.HasPrefix(target, "/") {
					base = strings.Join(parts[:i], "/")
				}
				p := path.Clean("/" + base + "/" + target + "/" + strings.Join(parts[i+1:], "/"))
				parts = nil
				if p != "/" {
					parts = strings.Split(p[1:], "/")
				}
				restart = true
				break
			}
			cur = next
		}
		if !restart {
			return cur, nil
		}
	}
}

func containsIno(s []uint32, n uint32) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

// linkTarget reads the target of symbolic link in.
func (f *FS) linkTarget(in *inode) (string, error) {
	if in.size > 4096 {
		return "", corrupt(inodeName(in.num), in.off, "symbolic link of %d bytes", in.size)
	}
	data, err := f.openInode(in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.size)
	if _, err := data.ReadAt(b, 0); err != nil && err != io.EOF {
		return "", err
	}
	return string(b), nil
}

// Open opens the named file, following symbolic links. Files implement
// io.ReaderAt, io.Seeker and allocmap.Mapper; directories
// fs.ReadDirFile.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	info := f.infoOf(n)
	if n.orphans || n.in.isDir() {
		return &dirFile{f: f, n: n, info: info}, nil
	}
	data, err := f.openInode(n.in)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return guestfs.NewFile(data, info), nil
}

// Stat describes the named file, following symbolic links.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return f.infoOf(n), nil
}

// Lstat is Stat without following a final symbolic link.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return f.infoOf(n), nil
}

// ReadLink returns the target of the named symbolic link.
func (f *FS) ReadLink(name string) (string, error) {
	n, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.in == nil || !n.in.isSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	t, err := f.linkTarget(n.in)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return t, nil
}

// ReadDir lists the named directory sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	ents, err := f.dirEntries(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

func (f *FS) dirEntries(n *node) ([]fs.DirEntry, error) {
	if !n.orphans && !n.in.isDir() {
		return nil, errNotDir
	}
	kids, err := f.children(n)
	if err != nil {
		return nil, err
	}
	anc := append(append([]uint32(nil), n.ancestors...), n.ino)
	out := make([]fs.DirEntry, 0, len(kids))
	for _, c := range kids {
		if !c.orphans && containsIno(anc, c.ino) {
			continue
		}
		out = append(out, &dirEntry{f: f, c: c, anc: anc})
	}
	return out, nil
}

// dirEntry reads its inode when asked for more than its name.
type dirEntry struct {
	f   *FS
	c   child
	anc []uint32
}

func (d *dirEntry) Name() string { return d.c.name }
func (d *dirEntry) IsDir() bool  { return d.Type().IsDir() }
func (d *dirEntry) Type() fs.FileMode {
	fi, err := d.Info()
	if err != nil {
		return 0
	}
	return fi.Mode().Type()
}
func (d *dirEntry) String() string { return fs.FormatDirEntry(d) }

func (d *dirEntry) Info() (fs.FileInfo, error) {
	n := &node{name: d.c.name, ino: d.c.ino, deleted: d.c.deleted, orphans: d.c.orphans, ancestors: d.anc}
	if !d.c.orphans {
		in, err := d.f.readInode(d.c.ino)
		if err != nil {
			return nil, err
		}
		n.in = in
	}
	return d.f.infoOf(n), nil
}

package xfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// FS is an XFS file system read from an io.ReaderAt. It is safe for
// concurrent use; its files are not (each has its own offset).
type FS struct {
	r        io.ReaderAt
	size     int64
	sb       *superblock
	warnings []string

	dirs    *blockcache.LRU[uint64, *cachedDir]
	iblocks blockCache
}

var _ guestfs.FS = (*FS)(nil)

// Open reads the XFS file system of size bytes in r: the primary
// superblock, or when it is destroyed a secondary one (said in Warnings).
// opts.Deleted lists nothing more: XFS keeps no names of deleted files.
func Open(r io.ReaderAt, size int64, opts guestfs.Options) (*FS, error) {
	sb, warn, err := findSuper(r, size)
	if err != nil {
		return nil, err
	}
	x := &FS{r: r, size: size, sb: sb, dirs: newDirCache()}
	if warn != "" {
		x.warnings = append(x.warnings, warn)
	}
	x.warnings = append(x.warnings, sb.notes(warn == "")...)
	if need := int64(sb.dblocks) << sb.blockLog; need > size {
		// A truncated image: what it holds is read, blocks past its end
		// are outside the file system.
		sb.dblocks = uint64(size >> sb.blockLog)
		x.warnings = append(x.warnings, fmt.Sprintf("XFS file system of %d bytes truncated to %d: files in the %d bytes missing cannot be read", need, size, need-size))
	}
	err = x.checkRoot(sb.rootIno)
	if err != nil && warn != "" {
		// mkfs writes the copies before it makes the root directory: their
		// root inode is null. The root is the first directory of AG 0 that
		// is its own parent.
		ino, ok := x.findRoot()
		if !ok {
			return nil, err
		}
		sb.rootIno = ino
		x.warnings = append(x.warnings, fmt.Sprintf("XFS root directory found at inode %d by a scan of allocation group 0", ino))
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}

// checkRoot checks that ino is a directory that is its own parent.
func (x *FS) checkRoot(ino uint64) error {
	root, err := x.readInode(ino)
	if err != nil {
		return err
	}
	if !root.isDir() {
		return corrupt(root.structName(), root.off, "the root is not a directory")
	}
	if _, parent, err := x.readDir(root); err != nil {
		return err
	} else if parent != ino {
		return corrupt(root.structName(), root.off, "the root's parent is inode %d", parent)
	}
	return nil
}

// maxRootScan bounds the bytes of AG 0 read to find the root directory,
// and maxRootCandidates the directories read there to check their parent.
const (
	maxRootScan       = 256 << 20
	maxRootCandidates = 1024
)

// findRoot scans the start of allocation group 0 for the root directory.
func (x *FS) findRoot() (uint64, bool) {
	sb := x.sb
	buf := make([]byte, 1<<20)
	end := min(sb.agSize(), maxRootScan, x.size)
	candidates := 0
	for off := int64(0); off < end && candidates < maxRootCandidates; off += int64(len(buf)) {
		n, _ := x.r.ReadAt(buf, off)
		for i := 0; i+sb.inodeSize <= n; i += sb.inodeSize {
			if string(buf[i:i+2]) != "IN" || buf[i+4] < 1 || buf[i+4] > 3 {
				continue
			}
			pos := off + int64(i)
			ino := uint64(pos>>sb.blockLog)<<sb.inoPBLog | uint64(pos&(sb.blockSize-1))>>sb.inodeLog
			if in, err := x.decodeInode(buf[i:i+sb.inodeSize], ino, pos); err == nil && in.isDir() {
				if x.checkRoot(ino) == nil {
					return ino, true
				}
				candidates++
			}
		}
	}
	return 0, false
}

// Type names the file system as partition.DetectFS does.
func (x *FS) Type() string { return partition.FSXFS }

// Warnings says what Open worked around.
func (x *FS) Warnings() []string { return append([]string(nil), x.warnings...) }

// node is a resolved path: its inode and the directories above it, which
// its listing leaves out so that a directory loop ends.
type node struct {
	name      string
	in        *inode
	ancestors []uint64
}

const maxSymlinkHops = 40

// resolve finds name, following symbolic links in its directories and, if
// follow, in its last element. Links resolve inside the file system: an
// absolute target starts at its root.
func (x *FS) resolve(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	root, err := x.readInode(x.sb.rootIno)
	if err != nil {
		return node{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	stack := []*inode{root}
	rest := splitPath(name)
	hops := 0
	for len(rest) > 0 {
		elem := rest[0]
		rest = rest[1:]
		cur := stack[len(stack)-1]
		switch elem {
		case ".", "":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if !cur.isDir() {
			return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("not a directory")}
		}
		d, ok, err := x.lookup(cur, elem)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if !ok || d.ino == cur.ino || x.onStack(stack, d.ino) {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		in, err := x.entryInode(d)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if in.isSymlink() && (len(rest) > 0 || follow) {
			if hops++; hops > maxSymlinkHops {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			target, err := x.linkTarget(in)
			if err != nil {
				return node{}, &fs.PathError{Op: op, Path: name, Err: err}
			}
			if strings.HasPrefix(target, "/") {
				stack = stack[:1]
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		stack = append(stack, in)
	}
	n := node{name: path.Base(name), in: stack[len(stack)-1]}
	for _, a := range stack[:len(stack)-1] {
		n.ancestors = append(n.ancestors, a.ino)
	}
	return n, nil
}

// entryInode reads the inode of directory entry d, and checks that it is
// of the type the entry says.
func (x *FS) entryInode(d dirent) (*inode, error) {
	in, err := x.readInode(d.ino)
	if err != nil {
		return nil, err
	}
	if d.ftype != ftUnknown && d.ftype != in.ftype() {
		return nil, corrupt(in.structName(), in.off, "of mode %#o under a directory entry %q of file type %d", in.mode, d.name, d.ftype)
	}
	return in, nil
}

func (x *FS) onStack(stack []*inode, ino uint64) bool {
	for _, s := range stack {
		if s.ino == ino {
			return true
		}
	}
	return false
}

func splitPath(name string) []string {
	if name == "." {
		return nil
	}
	return strings.Split(name, "/")
}

// Open opens the named file, following symbolic links. Regular files
// implement io.ReaderAt, io.Seeker and allocmap.Mapper; directories
// fs.ReadDirFile.
func (x *FS) Open(name string) (fs.File, error) {
	n, err := x.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.in.isDir() {
		ents, err := x.dirEntries(n)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return guestfs.NewDir(fileInfo{name: n.name, in: n.in}, ents), nil
	}
	f, err := x.openFile(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// Stat describes the named file, following symbolic links.
func (x *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := x.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: n.name, in: n.in}, nil
}

// Lstat is Stat without following a final symbolic link.
func (x *FS) Lstat(name string) (fs.FileInfo, error) {
	n, err := x.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: n.name, in: n.in}, nil
}

// ReadLink returns the target of the named symbolic link.
func (x *FS) ReadLink(name string) (string, error) {
	n, err := x.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !n.in.isSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	t, err := x.linkTarget(n.in)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return t, nil
}

// ReadDir lists the named directory sorted by name.
func (x *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := x.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.in.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, err := x.dirEntries(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

// dirEntries lists directory n sorted by name, leaving out entries that
// name it or a directory above it.
func (x *FS) dirEntries(n node) ([]fs.DirEntry, error) {
	d, err := x.cachedDir(n.in)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(d.ents))
	for _, e := range d.ents {
		if e.ino == n.in.ino || containsIno(n.ancestors, e.ino) {
			continue
		}
		de := &dirEntry{x: x, d: e}
		if !x.sb.ftype || e.ftype == ftUnknown || e.ftype >= ftMax {
			// The type is the inode's. A damaged inode is still listed:
			// its Info says what is wrong.
			if in, err := x.entryInode(e); err == nil {
				de.in = in
			}
		}
		out = append(out, de)
	}
	return out, nil
}

func containsIno(s []uint64, ino uint64) bool {
	for _, v := range s {
		if v == ino {
			return true
		}
	}
	return false
}

// linkTarget reads the target of symbolic link in: inside the inode, or in
// blocks. On v5 each extent of a remote target starts with a header
// (xfs_dsymlink_hdr: magic "XSLM", offset u32, bytes u32, crc u32 at 12
// over the extent, uuid, owner u64 at 32, blkno u64 at 40, lsn): 56 bytes.
func (x *FS) linkTarget(in *inode) (string, error) {
	const maxLen, hdrLen = 1024, 56
	what := in.structName() + " symbolic link"
	if in.size <= 0 || in.size > maxLen {
		return "", corrupt(what, in.off, "target of %d bytes", in.size)
	}
	if in.format == fmtLocal {
		if in.size > int64(len(in.fork)) {
			return "", corrupt(what, in.off, "target of %d bytes in a %d-byte fork", in.size, len(in.fork))
		}
		return string(in.fork[:in.size]), nil
	}
	ext, err := x.extentMap(in)
	if err != nil {
		return "", err
	}
	var out []byte
	bs := x.sb.blockSize
	for _, e := range ext {
		if int64(len(out)) >= in.size {
			break
		}
		// A target of 1024 bytes needs few blocks: more is hostile.
		if e.count > uint64(maxLen/bs+2) {
			return "", corrupt(what, e.phys, "extent of %d blocks", e.count)
		}
		buf := make([]byte, int64(e.count)*bs)
		if n, err := x.r.ReadAt(buf, e.phys); n < len(buf) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("reading %s at %#x: %w", what, e.phys, err)
		}
		data := buf
		if x.sb.version == 5 {
			n := int(beU32(buf[8:]))
			switch {
			case string(buf[:4]) != "XSLM" || !crcOK(buf, 12):
				return "", corrupt(what, e.phys, "bad remote symlink header")
			case beU64(buf[32:]) != in.ino || beU64(buf[40:]) != uint64(e.phys>>9):
				return "", corrupt(what, e.phys, "remote symlink block of inode %d at %#x", beU64(buf[32:]), beU64(buf[40:])<<9)
			case int(beU32(buf[4:])) != len(out) || n > len(buf)-hdrLen:
				return "", corrupt(what, e.phys, "remote symlink piece of %d bytes at %d", n, beU32(buf[4:]))
			}
			data = buf[hdrLen : hdrLen+n]
		}
		out = append(out, data[:min(int64(len(data)), in.size-int64(len(out)))]...)
	}
	if int64(len(out)) != in.size {
		return "", corrupt(what, in.off, "%d of %d bytes mapped", len(out), in.size)
	}
	return string(out), nil
}

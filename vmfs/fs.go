package vmfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/fanout"
	"github.com/vmfsrecover/vmfsrecover/internal/zerocopy"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

var (
	_ fs.FS         = (*Volume)(nil)
	_ fs.ReadDirFS  = (*Volume)(nil)
	_ fs.StatFS     = (*Volume)(nil)
	_ fs.ReadLinkFS = (*Volume)(nil)
)

const maxSymlinkHops = 40

// node is a resolved path: its descriptor and the name it was reached by.
type node struct {
	name      string
	fd        *fileDesc
	ancestors []uint32 // directory addresses from the root to the parent
}

// resolve walks name from the root. Symlinks in the middle of the path are
// always followed; the last one only when followLast is set.
func (v *Volume) resolve(op, name string, followLast bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if v.root == nil {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: the root directory is unreadable; files are reachable through a deep scan", ErrCorrupt)}
	}
	hops := 0
	todo := splitPath(name)
	var stack []*fileDesc // ancestors of cur, from the root
	cur := v.root
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		if cur.typ != typeDirectory && !isDirFD(cur) {
			return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("not a directory")}
		}
		dir, err := v.directory(cur)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		ent, ok := dir.lookup(comp)
		if !ok {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		fd, err := v.readFD(ent.addr)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if fd.typ == typeSymlink && (len(todo) > 0 || followLast) {
			if hops++; hops > maxSymlinkHops {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			target, err := v.linkTarget(fd)
			if err != nil {
				return node{}, &fs.PathError{Op: op, Path: name, Err: err}
			}
			if strings.HasPrefix(target, "/") {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("symbolic link to absolute path " + target + " outside the volume")}
			}
			// Continue from the link's directory with the target's parts;
			// after Clean, ".." can only lead the target.
			var parts []string
			for _, part := range strings.Split(path.Clean(target), "/") {
				switch {
				case part == "." || part == "":
				case part == ".." && len(parts) == 0:
					if len(stack) == 0 {
						return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("symbolic link points above the volume root")}
					}
					cur, stack = stack[len(stack)-1], stack[:len(stack)-1]
				default:
					parts = append(parts, part)
				}
			}
			todo = append(parts, todo...)
			continue
		}
		stack = append(stack, cur)
		cur = fd
	}
	base := path.Base(name)
	if name == "." {
		base = "."
	}
	anc := make([]uint32, len(stack))
	for i, d := range stack {
		anc[i] = d.addr
	}
	return node{name: base, fd: cur, ancestors: anc}, nil
}

func splitPath(name string) []string {
	if name == "." {
		return nil
	}
	return strings.Split(name, "/")
}

func isDirFD(fd *fileDesc) bool {
	return fd.typ == typeDirectory || (fd.typ == typeSystem && fd.mode&sIFMT == sIFDIR)
}

func (v *Volume) linkTarget(fd *fileDesc) (string, error) {
	if fd.length > 4096 {
		return "", corrupt("symbolic link", fd.vol, "target of %d bytes", fd.length)
	}
	b := make([]byte, fd.length)
	if _, err := v.readFileAt(fd, b, 0); err != nil && err != io.EOF {
		return "", err
	}
	return string(b), nil
}

// Open opens the named file, following symbolic links. Files implement
// io.ReaderAt, io.Seeker and allocmap.Mapper; directories fs.ReadDirFile.
func (v *Volume) Open(name string) (fs.File, error) {
	n, err := v.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	return &File{v: v, node: n}, nil
}

// Stat returns information about the named file, following symlinks.
func (v *Volume) Stat(name string) (fs.FileInfo, error) {
	n, err := v.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return v.fileInfo(n), nil
}

// Lstat is Stat without following a final symbolic link.
func (v *Volume) Lstat(name string) (fs.FileInfo, error) {
	n, err := v.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return v.fileInfo(n), nil
}

// ReadLink returns the target of the named symbolic link.
func (v *Volume) ReadLink(name string) (string, error) {
	n, err := v.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.fd.typ != typeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	t, err := v.linkTarget(n.fd)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return t, nil
}

// ReadDir lists the named directory sorted by name.
func (v *Volume) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := v.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !isDirFD(n.fd) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, err := v.dirEntries(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

// dirEntries lists directory n. An entry that names the directory itself
// or one of its ancestors would make the tree a loop; it is left out.
func (v *Volume) dirEntries(n node) ([]fs.DirEntry, error) {
	raw, err := v.readDir(n.fd)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(raw))
	backing := make([]dirEntry, len(raw)) // one allocation, not one per entry
	for i, d := range raw {
		if d.addr == n.fd.addr || slices.Contains(n.ancestors, d.addr) {
			continue
		}
		e := &backing[i]
		*e = dirEntry{v: v, d: d}
		if d.typ == typeSystem { // system entries may be directories (.sdd.sf)
			if sub, err := v.readFD(d.addr); err == nil && isDirFD(sub) {
				e.dir = true
			}
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// dirEntry is an fs.DirEntry whose Info reads the descriptor lazily.
type dirEntry struct {
	v   *Volume
	d   dirent
	dir bool
}

func (e *dirEntry) Name() string { return e.d.name }
func (e *dirEntry) IsDir() bool  { return e.Type().IsDir() }
func (e *dirEntry) Type() fs.FileMode {
	switch {
	case e.d.typ == typeDirectory || e.dir:
		return fs.ModeDir
	case e.d.typ == typeSymlink:
		return fs.ModeSymlink
	case e.d.typ == typeRDM:
		return fs.ModeIrregular
	}
	return 0
}
func (e *dirEntry) Info() (fs.FileInfo, error) {
	fd, err := e.v.readFD(e.d.addr)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: e.d.name, Err: err}
	}
	return e.v.fileInfo(node{name: e.d.name, fd: fd}), nil
}

// FileInfo describes a file; Sys returns *Attributes.
type FileInfo struct {
	name  string
	attrs Attributes // in the same allocation: a listing makes one per file
}

func (fi *FileInfo) Name() string       { return fi.name }
func (fi *FileInfo) Size() int64        { return fi.attrs.Size }
func (fi *FileInfo) Mode() fs.FileMode  { return fi.attrs.fileMode }
func (fi *FileInfo) ModTime() time.Time { return fi.attrs.MTime }
func (fi *FileInfo) IsDir() bool        { return fi.attrs.fileMode.IsDir() }
func (fi *FileInfo) Sys() any           { return &fi.attrs }

// Attributes are the VMFS-specific facts about a file.
type Attributes struct {
	FD          uint32    `json:"fd"`        // descriptor address
	Type        string    `json:"fd_type"`   // directory, file, symlink, system, rdm, volume
	Size        int64     `json:"size"`      // bytes
	Mode        uint32    `json:"vmfs_mode"` // mode word as stored
	UID         uint32    `json:"uid"`
	GID         uint32    `json:"gid"`
	MTime       time.Time `json:"mtime"`
	CTime       time.Time `json:"ctime"`
	ATime       time.Time `json:"atime"`
	Links       uint32    `json:"links"`
	Generation  uint32    `json:"generation"`
	Addressing  string    `json:"addressing"`  // resident, file blocks, sub-blocks, ...
	BlockSize   int64     `json:"block_size"`  // allocation unit of this file
	Blocks      int64     `json:"blocks"`      // allocated blocks as recorded
	TBZBlocks   uint32    `json:"tbz_blocks"`  // allocated but not yet zeroed
	Provisioned string    `json:"provisioned"` // thin, lazy-zeroed thick, eager-zeroed thick
	ParentFD    uint32    `json:"parent_fd,omitempty"`
	VolumeOff   int64     `json:"descriptor_offset"` // volume offset of the descriptor

	fileMode fs.FileMode
}

// Inode is the descriptor's address, which names the file on the volume
// as an inode number does (listing.Metadata, for body files).
func (a *Attributes) Inode() uint64 { return uint64(a.FD) }

// Owner is the descriptor's user and group.
func (a *Attributes) Owner() (uid, gid uint32) { return a.UID, a.GID }

// Times are the descriptor's access, modification and change times.
func (a *Attributes) Times() (atime, mtime, ctime time.Time) { return a.ATime, a.MTime, a.CTime }

func (v *Volume) fileInfo(n node) *FileInfo {
	fd := n.fd
	fi := &FileInfo{name: n.name}
	a := &fi.attrs
	*a = Attributes{
		FD: fd.addr, Size: fd.length, Mode: fd.mode, UID: fd.uid, GID: fd.gid,
		MTime: unixTime(fd.mtime), CTime: unixTime(fd.ctime), ATime: unixTime(fd.atime),
		Links: fd.linkCount, Generation: fd.generation, BlockSize: fd.blockSize, Blocks: fd.numBlocks,
		TBZBlocks: fd.numTBZ, ParentFD: fd.parentFD, VolumeOff: fd.vol,
		Type: typeName(fd.typ), Addressing: addressingName(fd.zla),
	}
	perm := fs.FileMode(fd.mode & 0o777)
	if fd.mode&0o1000 != 0 {
		perm |= fs.ModeSticky
	}
	switch {
	case isDirFD(fd):
		perm |= fs.ModeDir
	case fd.typ == typeSymlink:
		perm |= fs.ModeSymlink
	case fd.typ == typeRDM:
		perm |= fs.ModeIrregular
	}
	a.fileMode = perm
	if fd.typ == typeRegular {
		switch {
		case fd.zla == zlaResident || fd.numBlocks*fd.blockSize < fd.length:
			a.Provisioned = "thin"
		case fd.numTBZ > 0:
			a.Provisioned = "lazy-zeroed thick"
		default:
			a.Provisioned = "eager-zeroed thick"
		}
	}
	return fi
}

func typeName(t uint32) string {
	return [...]string{"invalid", "volume", "directory", "file", "symlink", "system", "rdm"}[min(t, typeRDM)]
}

func addressingName(zla uint32) string {
	switch zla {
	case zlaResident:
		return "resident"
	case zlaFileBlock:
		return "file blocks"
	case zlaSubBlock:
		return "sub-blocks"
	case zlaPointerBlock:
		return "pointer blocks"
	case zlaPointerBlock2:
		return "pointer blocks (pb2)"
	case zlaDoubleIndirect:
		return "double indirect"
	}
	return "unknown"
}

// File is an open file or directory of a volume.
type File struct {
	v      *Volume
	node   node
	off    int64
	dir    []fs.DirEntry // directory listing, read on the first ReadDir
	dirPos int
}

var (
	_ io.ReaderAt     = (*File)(nil)
	_ io.Seeker       = (*File)(nil)
	_ io.WriterTo     = (*File)(nil)
	_ fs.ReadDirFile  = (*File)(nil)
	_ allocmap.Mapper = (*File)(nil)
)

func (f *File) Stat() (fs.FileInfo, error) { return f.v.fileInfo(f.node), nil }
func (f *File) Close() error               { return nil }

// Size is the file length in bytes.
func (f *File) Size() int64 { return f.node.fd.length }

func (f *File) Read(p []byte) (int, error) {
	if isDirFD(f.node.fd) {
		return 0, &fs.PathError{Op: "read", Path: f.node.name, Err: errors.New("is a directory")}
	}
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// copyChunk is the most WriteTo reads at once: as much as dd bs=1M, and a
// buffer that stays in the CPU's cache between a read and its write.
const copyChunk = 1 << 20

// kernelChunk is the most WriteRange hands the kernel at once: a context
// that stops a copy (cat's) is checked between two.
const kernelChunk = 64 << 20

// WriteTo writes the file from the current offset to its end to w (io.Copy
// calls it), as WriteRange does.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	n, err := f.WriteRange(w, f.off, max(0, f.node.fd.length-f.off))
	f.off += n
	return n, err
}

// WriteRange writes the n bytes of the file at off to w (fewer if the file
// ends before) and does not move the offset. Where w's bytes go to a file
// (zerocopy.Target) and the file's blocks lie in a local image or device
// (Backing), a run of blocks is copied in the kernel, never through this
// process's memory. Otherwise, and where the kernel refuses, it reads up
// to copyChunk bytes at once into one buffer: a run of blocks that follow
// each other on the volume is one read, and a chunk is read in parts at
// once on several CPUs (readParallel).
func (f *File) WriteRange(w io.Writer, off, n int64) (int64, error) {
	if isDirFD(f.node.fd) {
		return 0, &fs.PathError{Op: "read", Path: f.node.name, Err: errors.New("is a directory")}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.node.name, Err: fmt.Errorf("negative offset %d", off)}
	}
	end := min(off+n, f.node.fd.length)
	var buf []byte
	inKernel := true
	for pos := off; pos < end; {
		if inKernel {
			if dst := zerocopy.Target(w); dst != nil {
				k, refused := f.copyInKernel(dst, pos, end-pos)
				pos += k
				inKernel = !refused
				if k > 0 {
					continue
				}
			}
		}
		// Bytes the kernel did not copy: holes, runs not in a local file,
		// and a run whose copy failed, read here so that an error names
		// the file and offset as reads do.
		if buf == nil {
			buf = make([]byte, min(copyChunk, end-pos))
		}
		k, err := f.readParallel(buf[:min(int64(len(buf)), end-pos)], pos)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			pos += int64(m)
			if werr != nil {
				return pos - off, werr
			}
			if m < k {
				return pos - off, io.ErrShortWrite
			}
		}
		if err != nil && err != io.EOF {
			return pos - off, err
		}
	}
	return max(0, end-off), nil
}

// copyInKernel copies the run of data blocks at off, up to kernelChunk
// and n bytes, to dst in the kernel if it lies in a local file, and
// returns how many bytes it copied (0 for a hole or a run elsewhere) and
// whether the kernel refuses to write to dst at all.
func (f *File) copyInKernel(dst *os.File, off, n int64) (copied int64, refused bool) {
	src, at, length, ok := f.backingRun(off, min(kernelChunk, n))
	if !ok {
		return 0, false
	}
	copied, err := zerocopy.Copy(dst, src, at, length)
	return copied, errors.Is(err, errors.ErrUnsupported)
}

// parallelPart is the smallest part readParallel cuts.
const parallelPart = 256 << 10

// readParallel reads p at off as ReadAt does, cut into parts that
// package fanout reads at once. Copying from the page cache is work for a
// CPU: a 2 GiB file in 1 MiB reads, two halves at once, takes 0.7x the
// time of one thread's reads.
func (f *File) readParallel(p []byte, off int64) (int, error) {
	k := fanout.Parts(len(p), parallelPart)
	if k < 2 {
		return f.v.readFileAt(f.node.fd, p, off)
	}
	size := len(p) / k
	ns, errs := make([]int, k), make([]error, k)
	parts := make([]func(), k)
	for i := range k {
		q := p[i*size:]
		if i+1 < k {
			q = q[:size]
		}
		parts[i] = func() { ns[i], errs[i] = f.v.readFileAt(f.node.fd, q, off+int64(i*size)) }
	}
	fanout.Run(parts...)
	n := 0
	for i := range k {
		n += ns[i]
		if errs[i] != nil {
			return n, errs[i]
		}
	}
	return n, nil
}

// ReadAt reads the file's bytes at off; it is safe for concurrent use.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return f.v.readFileAt(f.node.fd, p, off)
}

func (f *File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.node.fd.length
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.node.name, Err: fs.ErrInvalid}
	}
	f.off = offset
	return offset, nil
}

func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	if !isDirFD(f.node.fd) {
		return nil, &fs.PathError{Op: "readdir", Path: f.node.name, Err: errors.New("not a directory")}
	}
	if f.dir == nil {
		ents, err := f.v.dirEntries(f.node)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: f.node.name, Err: err}
		}
		f.dir = ents
	}
	rest := f.dir[f.dirPos:]
	if n <= 0 {
		f.dirPos = len(f.dir)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	f.dirPos += len(rest)
	return rest, nil
}

// AllocationMap returns the ranges of the file that hold data; holes and
// to-be-zeroed blocks are left out.
func (f *File) AllocationMap() (allocmap.Map, error) {
	return f.v.allocationMap(f.node.fd)
}

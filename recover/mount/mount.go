package mount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"golang.org/x/sys/unix"
)

// ErrBusy is returned by Unmount while programs still use the mount.
var ErrBusy = errors.New("mountpoint is busy")

// maxRead is the largest read the kernel is asked to send and to read
// ahead: 1 MiB (the kernel's own cap), so that a sequential read costs few
// round trips through the server, and cat's reads of a file read with
// direct I/O (st_blksize, 1 MiB) reach it whole.
const maxRead = 1 << 20

// cacheFor is how long the kernel may trust entries and attributes:
// nothing in the tree ever changes.
const cacheFor = time.Hour

// DirectFrom is the size from which a file is read with direct I/O by
// default (see Options.DirectFrom).
const DirectFrom = 64 << 20

// Options say how to mount.
type Options struct {
	AllowOther bool   // let other users than the one mounting see the files
	Source     string // shown as the file system's name in the mount table
	// DirectFrom: files of at least this many bytes (0: DirectFrom) are
	// read with direct I/O, without the kernel's page cache of the mount:
	// each read reaches the server as the program asked it and its bytes
	// go straight into the program's buffer, where the page cache would
	// cost a copy and a page for every 4 KiB besides. Reads of 64 KiB and more, as cat, cp,
	// rsync, sha256sum and dd bs=1M make, are then several times faster;
	// a program reading in small blocks gets no read-ahead and is slower.
	// Negative: every file through the page cache, with read-ahead.
	// Memory maps work either way (on Linux 6.6 and later for files read
	// with direct I/O).
	DirectFrom int64
	// Warn hears, once per file, which bytes of it read as zeros because
	// they are lost (the file's Warnings()).
	Warn func(name string, warnings []string)
}

// Server is a mounted tree.
type Server struct {
	Dir    string
	server *fuse.Server
	t      *tree
}

// Mount serves fsys read-only at dir until Unmount, or until someone
// unmounts dir (umount, fusermount3 -u).
func Mount(dir string, fsys fs.FS, o Options) (*Server, error) {
	rootInfo, err := fs.Stat(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading the root directory: %w", err)
	}
	t := &tree{fsys: fsys, warn: o.Warn, directFrom: o.DirectFrom}
	if t.directFrom == 0 {
		t.directFrom = DirectFrom
	}
	root := &node{t: t, name: ".", info: rootInfo}
	timeout := cacheFor
	server, err := gofs.Mount(dir, root, &gofs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		MountOptions: fuse.MountOptions{
			FsName: o.Source, Name: "vmfsrecover",
			AllowOther: o.AllowOther,
			Options:    []string{"ro"},
			MaxWrite:   maxRead, MaxReadAhead: maxRead,
			// Replies are written from memory: the mapped image where the
			// bytes lie in it as they are (mappings), a buffer otherwise.
			// Splicing them from the image instead (fuse.ReadResultFd)
			// needs a pipe larger than a 1 MiB reply, which the default
			// /proc/sys/fs/pipe-max-size (1 MiB) refuses, and reads two
			// pages short of 1 MiB were slower (cat of a 256 MiB file with
			// direct I/O: medians 220 and 291 ms against 163 and 250).
			// With pipe-max-size raised to 2 MiB, whole 1 MiB replies
			// spliced beat the map by 1.2x (fresh mounts, 21 rounds), but
			// that is a setting of the system, not ours to change.
			DisableSplice: true,
			// Memory maps of files read with direct I/O (Linux 6.6+; older
			// kernels refuse the map, as they refuse it on any such file).
			ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
			// DirectMount: as root, mount without the fusermount3 helper
			// (falling back to it as others must).
			DirectMount: true,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mounting at %s: %w", dir, err)
	}
	raiseReadAhead(dir)
	return &Server{Dir: dir, server: server, t: t}, nil
}

// raiseReadAhead lets the kernel read ahead maxRead bytes, not its
// default 128 KiB, which it also keeps for FUSE whatever MaxReadAhead
// asks: a sequential read then costs a quarter of the round trips. Only
// root may; others keep the default.
func raiseReadAhead(dir string) {
	if dev, err := deviceOf(dir); err == nil && dev != "" {
		os.WriteFile("/sys/class/bdi/"+dev+"/read_ahead_kb", []byte(fmt.Sprint(maxRead>>10)), 0)
	}
}

// Wait returns when the file system is unmounted.
func (s *Server) Wait() {
	s.server.Wait()
	s.t.maps.unmapAll()
}

// Unmount unmounts the tree; it fails with ErrBusy while a program has a
// file open in it or its working directory there.
func (s *Server) Unmount() error {
	err := syscall.Unmount(s.Dir, 0)
	if errors.Is(err, syscall.EPERM) { // not root: through fusermount3
		err = s.server.Unmount()
		if err != nil && strings.Contains(err.Error(), "busy") {
			err = syscall.EBUSY
		}
	}
	if errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("unmounting %s: %w", s.Dir, ErrBusy)
	}
	if err != nil {
		return fmt.Errorf("unmounting %s: %w", s.Dir, err)
	}
	s.Wait()
	return nil
}

// Detach unmounts lazily: the mount leaves the tree at once, and programs
// still using it get errors once the server is gone.
func (s *Server) Detach() error { return detach(s.Dir) }

// ClearStale recognises the mount a crashed server left at dir (statfs
// fails with ENOTCONN, "transport endpoint is not connected") and unmounts
// it lazily. It reports whether there was one. Statfs, not stat: the
// kernel may answer stat from attributes it cached while the server lived.
func ClearStale(dir string) (bool, error) {
	var st syscall.Statfs_t
	err := syscall.Statfs(dir, &st)
	if !errors.Is(err, syscall.ENOTCONN) {
		return false, nil
	}
	if err := detach(dir); err != nil {
		return true, fmt.Errorf("clearing the stale mount at %s: %w", dir, err)
	}
	return true, nil
}

func detach(dir string) error {
	err := syscall.Unmount(dir, syscall.MNT_DETACH)
	if errors.Is(err, syscall.EPERM) {
		for _, bin := range []string{"fusermount3", "fusermount"} {
			if err = runFusermount(bin, dir); err == nil {
				return nil
			}
		}
	}
	return err
}

// tree is what every node of one mount shares.
type tree struct {
	fsys       fs.FS
	warn       func(string, []string)
	warned     sync.Map // names whose lost bytes were reported
	directFrom int64    // files this large or larger are read with direct I/O (< 0: none)
	maps       mappings // of the images files' bytes lie in
}

// warnLost reports f's lost bytes (or those its info names) once.
func (t *tree) warnLost(name string, f fs.File, info fs.FileInfo) {
	if t.warn == nil {
		return
	}
	w, ok := f.(interface{ Warnings() []string })
	if !ok {
		w, ok = info.Sys().(interface{ Warnings() []string })
	}
	if !ok {
		return
	}
	if ws := w.Warnings(); len(ws) > 0 {
		if _, done := t.warned.LoadOrStore(name, true); !done {
			t.warn(name, ws)
		}
	}
}

// node is one entry of the tree, by its name in the fs.FS.
type node struct {
	gofs.Inode
	t    *tree
	name string
	info fs.FileInfo // from Lstat
}

var (
	_ gofs.NodeLookuper      = (*node)(nil)
	_ gofs.NodeReaddirer     = (*node)(nil)
	_ gofs.NodeGetattrer     = (*node)(nil)
	_ gofs.NodeReadlinker    = (*node)(nil)
	_ gofs.NodeOpener        = (*node)(nil)
	_ gofs.NodeReader        = (*node)(nil)
	_ gofs.NodeSetattrer     = (*node)(nil)
	_ gofs.NodeCreater       = (*node)(nil)
	_ gofs.NodeMkdirer       = (*node)(nil)
	_ gofs.NodeMknoder       = (*node)(nil)
	_ gofs.NodeLinker        = (*node)(nil)
	_ gofs.NodeSymlinker     = (*node)(nil)
	_ gofs.NodeUnlinker      = (*node)(nil)
	_ gofs.NodeRmdirer       = (*node)(nil)
	_ gofs.NodeRenamer       = (*node)(nil)
	_ gofs.NodeSetxattrer    = (*node)(nil)
	_ gofs.NodeRemovexattrer = (*node)(nil)
)

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	full := path.Join(n.name, name)
	info, err := fs.Lstat(n.t.fsys, full)
	if err != nil {
		return nil, errno(err)
	}
	fillAttr(info, &out.Attr)
	child := &node{t: n.t, name: full, info: info}
	return n.NewInode(ctx, child, gofs.StableAttr{Mode: out.Attr.Mode & syscall.S_IFMT}), 0
}

func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := fs.ReadDir(n.t.fsys, n.name)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, fuse.DirEntry{Name: e.Name(), Mode: unixMode(e.Type()) & syscall.S_IFMT})
	}
	return gofs.NewListDirStream(out), 0
}

func (n *node) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(n.info, &out.Attr)
	out.SetTimeout(cacheFor)
	return 0
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	target, err := fs.ReadLink(n.t.fsys, n.name)
	if err != nil {
		return nil, errno(err)
	}
	return []byte(target), 0
}

func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	f, err := n.t.fsys.Open(n.name)
	if err != nil {
		return nil, 0, errno(err)
	}
	n.t.warnLost(n.name, f, n.info)
	h := &handle{fsys: n.t.fsys, name: n.name, f: f, size: n.info.Size()}
	h.ra, _ = f.(io.ReaderAt)
	h.backed, _ = f.(disk.Backed)
	if n.t.directFrom >= 0 && n.info.Mode().IsRegular() && n.info.Size() >= n.t.directFrom {
		return h, fuse.FOPEN_DIRECT_IO, 0
	}
	// The bytes never change: pages read by one open serve the next.
	return h, fuse.FOPEN_KEEP_CACHE, 0
}

func (n *node) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*handle)
	if !ok {
		return nil, syscall.EBADF
	}
	want := min(int64(len(dest)), max(n.info.Size()-off, 0))
	if h.backed != nil && want > 0 {
		if f, at, ok := h.backed.Backing(off, want); ok {
			if m := n.t.maps.of(f); at+want <= int64(len(m)) {
				return fuse.ReadResultData(m[at : at+want]), 0
			}
		}
	}
	k, err := h.readAt(dest[:want], off)
	if err != nil {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// Everything that would change the tree fails: the kernel already refuses
// these on a read-only mount; this holds should one reach the server.

func (n *node) Setattr(context.Context, gofs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (n *node) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

func (n *node) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Link(context.Context, gofs.InodeEmbedder, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Symlink(context.Context, string, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Unlink(context.Context, string) syscall.Errno { return syscall.EROFS }
func (n *node) Rmdir(context.Context, string) syscall.Errno  { return syscall.EROFS }

func (n *node) Rename(context.Context, string, gofs.InodeEmbedder, string, uint32) syscall.Errno {
	return syscall.EROFS
}

func (n *node) Setxattr(context.Context, string, []byte, uint32) syscall.Errno {
	return syscall.EROFS
}

func (n *node) Removexattr(context.Context, string) syscall.Errno { return syscall.EROFS }

// handle is an open file. Files with io.ReaderAt (those of vmfs and
// deepscan) are read at any offset concurrently; others are read in
// order, reopened when a read goes back. Where a read's bytes lie as they
// are in one run of a local image (disk.Backed: a VMFS file's blocks on a
// volume in a file), the reply is those bytes in the image's memory map.
type handle struct {
	fsys   fs.FS
	name   string
	ra     io.ReaderAt
	backed disk.Backed // where its bytes lie as they are in a local file
	size   int64

	mu  sync.Mutex
	f   fs.File
	pos int64 // of f, when read in order

	mapOnce sync.Once
	data    allocmap.Map // where the file holds data, for SEEK_DATA and SEEK_HOLE
}

var (
	_ gofs.FileReleaser = (*handle)(nil)
	_ gofs.FileLseeker  = (*handle)(nil)
)

// Lseek answers SEEK_DATA and SEEK_HOLE from the file's allocation map
// (allocmap.Mapper: a thin VMFS file, a flattened VMDK, a deep-scan
// finding, a guest's sparse file), so that cp --sparse, tar -S and the
// like skip the holes. A file without one is data from start to end; a
// map that cannot be read counts as all data too, since a hole claimed
// wrongly would lose bytes. The kernel answers the other whences itself.
func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	if whence != unix.SEEK_DATA && whence != unix.SEEK_HOLE {
		return 0, syscall.EINVAL
	}
	if off >= uint64(h.size) {
		return 0, syscall.ENXIO
	}
	h.mapOnce.Do(func() {
		h.data = allocmap.Map{{Off: 0, Len: h.size}}
		if m, ok := h.f.(allocmap.Mapper); ok {
			if data, err := m.AllocationMap(); err == nil && data.Validate(h.size) == nil {
				// Merged: a hole is never between two touching ranges.
				h.data = allocmap.Normalize(slices.Clone(data))
			}
		}
	})
	to, ok := seek(h.data, h.size, int64(off), whence == unix.SEEK_DATA)
	if !ok {
		return 0, syscall.ENXIO
	}
	return uint64(to), 0
}

// seek finds, in a file of size bytes whose data lies at data, the first
// byte of data (or of a hole) at or past off < size; ok is false when no
// data follows. The end of the file counts as a hole, as lseek(2) says.
func seek(data allocmap.Map, size, off int64, wantData bool) (to int64, ok bool) {
	i := sort.Search(len(data), func(i int) bool { return data[i].End() > off })
	if wantData {
		if i == len(data) {
			return 0, false
		}
		return max(off, data[i].Off), true
	}
	if i == len(data) || data[i].Off > off {
		return off, true
	}
	return min(data[i].End(), size), true
}

func (h *handle) readAt(p []byte, off int64) (int, error) {
	if h.ra != nil {
		k, err := h.ra.ReadAt(p, off)
		if err == io.EOF {
			err = nil
		}
		return k, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.f.(io.Seeker); ok {
		if _, err := s.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
	} else {
		if off < h.pos {
			f, err := h.fsys.Open(h.name)
			if err != nil {
				return 0, err
			}
			h.f.Close()
			h.f, h.pos = f, 0
		}
		skipped, err := io.CopyN(io.Discard, h.f, off-h.pos)
		h.pos += skipped
		if err != nil {
			return 0, err
		}
	}
	k, err := io.ReadFull(h.f, p)
	h.pos = off + int64(k)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return k, err
}

func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.f.Close()
	return 0
}

// fillAttr describes info as stat does; owners, link count and the
// other times come from the VMFS descriptor where there is one.
func fillAttr(info fs.FileInfo, out *fuse.Attr) {
	out.Mode = unixMode(info.Mode())
	out.Size = uint64(max(info.Size(), 0))
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = maxRead // cat, cp and the like read this much at a time
	out.Nlink = 1
	if info.IsDir() {
		out.Nlink = 2
	}
	mtime := info.ModTime()
	atime, ctime := mtime, mtime
	a := attributes(info)
	if a != nil {
		out.Owner = fuse.Owner{Uid: a.UID, Gid: a.GID}
		if a.Links > 0 {
			out.Nlink = a.Links
		}
		if !a.ATime.IsZero() {
			atime = a.ATime
		}
		if !a.CTime.IsZero() {
			ctime = a.CTime
		}
		// The blocks the descriptor records (du's figure): fewer than the
		// size for a thin file. A resident file's bytes lie in its
		// descriptor, which has no blocks of its own.
		if info.Mode().IsRegular() && a.Addressing != "resident" && a.BlockSize > 0 {
			out.Blocks = min(out.Blocks, uint64(a.Blocks*a.BlockSize+511)/512)
		}
	}
	out.SetTimes(epochIfZero(atime), epochIfZero(mtime), epochIfZero(ctime))
}

func attributes(info fs.FileInfo) *vmfs.Attributes {
	switch x := info.Sys().(type) {
	case *vmfs.Attributes:
		return x
	case interface{ VMFSAttributes() *vmfs.Attributes }:
		return x.VMFSAttributes()
	}
	return nil
}

func epochIfZero(t time.Time) *time.Time {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return &t
}

// unixMode is m as a stat mode.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	switch {
	case m.IsDir():
		u |= syscall.S_IFDIR
	case m&fs.ModeSymlink != 0:
		u |= syscall.S_IFLNK
	case m&fs.ModeNamedPipe != 0:
		u |= syscall.S_IFIFO
	case m&fs.ModeSocket != 0:
		u |= syscall.S_IFSOCK
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0:
		u |= syscall.S_IFCHR
	case m&fs.ModeDevice != 0:
		u |= syscall.S_IFBLK
	default: // regular, and irregular (RDM) files read as their bytes
		u |= syscall.S_IFREG
	}
	if m&fs.ModeSticky != 0 {
		u |= syscall.S_ISVTX
	}
	if m&fs.ModeSetuid != 0 {
		u |= syscall.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= syscall.S_ISGID
	}
	return u
}

func errno(err error) syscall.Errno {
	if errors.Is(err, fs.ErrNotExist) {
		return syscall.ENOENT
	}
	if errors.Is(err, fs.ErrInvalid) {
		return syscall.EINVAL
	}
	return syscall.EIO
}

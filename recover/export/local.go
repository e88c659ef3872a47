package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
)

// Local is a directory on a local filesystem. All access goes through an
// os.Root, so no name or symbolic link, whatever a damaged volume holds, can
// lead a write outside the directory.
type Local struct {
	Dir string
	// NoSync skips fsync before a file is renamed to its final name; faster,
	// but a power cut can then leave an exported file incomplete.
	NoSync bool
	// Guard, when set, holds what the export reads: a file opened for
	// writing, and an entry a rename or removal would replace, that is a
	// source is refused before any byte of it changes, and the export
	// stops.
	Guard *writeguard.Guard

	renamed renamedFolders // shared by the connections
}

// renamedFolders are the folders renames were made in since they were
// last settled (fsynced).
type renamedFolders struct {
	mu      sync.Mutex
	folders map[string]bool
}

// add records a rename in dir, and dir's parents up to the root, whose
// entries for the folders below (made by MkdirAll) must last too.
func (r *renamedFolders) add(dir string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.folders == nil {
		r.folders = map[string]bool{}
	}
	for ; dir != "."; dir = path.Dir(dir) {
		r.folders[dir] = true
	}
	r.folders["."] = true
}

// settle fsyncs every folder added, under the lock, so that a rename
// added while it runs waits for the next settle rather than being lost.
func (r *renamedFolders) settle(root *os.Root) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, dir := range slices.Sorted(maps.Keys(r.folders)) {
		if err := syncFolder(root, dir); err != nil {
			return classifyLocal(fmt.Errorf("making the renames in %s durable: %w", dir, err))
		}
		delete(r.folders, dir)
	}
	return nil
}

// syncFolder fsyncs the folder dir of root; a variable for the test that
// records the order of settling and renaming.
var syncFolder = func(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// NewLocal returns the local directory dir as a destination, creating it
// when missing.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, classifyLocal(err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("destination %s is not a directory", abs)
	}
	return &Local{Dir: abs}, nil
}

func (l *Local) String() string { return l.Dir }

// Connect opens the directory; it creates nothing (NewLocal does).
func (l *Local) Connect(ctx context.Context) (Conn, error) {
	root, err := os.OpenRoot(l.Dir)
	if err != nil {
		return nil, classifyLocal(fmt.Errorf("opening the destination folder: %w", err))
	}
	return &localConn{root: root, sync: !l.NoSync, dir: l.Dir, guard: l.Guard, renamed: &l.renamed}, nil
}

type localConn struct {
	root    *os.Root
	sync    bool
	dir     string
	guard   *writeguard.Guard
	renamed *renamedFolders
}

// checkEntry refuses to replace or remove name when it is a source (a hard
// link to one; a symbolic link is replaced, not followed).
func (c *localConn) checkEntry(name string) error {
	fi, err := c.root.Lstat(name)
	if err != nil {
		return nil
	}
	if err := c.guard.CheckInfo(filepath.Join(c.dir, name), fi); err != nil {
		return &fatalError{err: err}
	}
	return nil
}

func (c *localConn) MkdirAll(ctx context.Context, dir string) error {
	return classifyLocal(c.root.MkdirAll(dir, 0o755))
}

func (c *localConn) Size(ctx context.Context, name string) (int64, error) {
	fi, err := c.root.Lstat(name)
	if err != nil {
		return 0, plainOSError(err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a regular file", name)
	}
	return fi.Size(), nil
}

func (c *localConn) Write(ctx context.Context, name string, s *Stream) (err error) {
	// No O_TRUNC: the opened file is checked against the sources first.
	f, err := c.root.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return classifyLocal(err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = classifyLocal(cerr)
		}
	}()
	if err := c.guard.CheckFile(filepath.Join(c.dir, name), f); err != nil {
		return &fatalError{err: err}
	}
	// Anything past From is from an interrupted write: drop it.
	if err := f.Truncate(s.From()); err != nil {
		return classifyLocal(err)
	}
	wb := writeBehind{fd: int(f.Fd()), queued: s.From()}
	// A run of zeros is left as a hole: the file grows over it with
	// Truncate at the end, so a thin disk keeps costing only what it holds.
	err = s.Each(ctx, func(off int64, data []byte, hole int64) error {
		if data == nil {
			return nil
		}
		if _, err := f.WriteAt(data, off); err != nil {
			return classifyLocal(err)
		}
		if c.sync {
			wb.written(off + int64(len(data)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := f.Truncate(s.Size()); err != nil {
		return classifyLocal(err)
	}
	if c.sync {
		if err := f.Sync(); err != nil {
			return classifyLocal(err)
		}
		wb.synced()
	}
	return nil
}

// writeBehindWindow is how much of a file written with fsync gathers in
// the page cache before it is handed to the device.
const writeBehindWindow = 8 << 20

// dropLag is how far behind the newest window handed to the device the
// export drops a file's pages from the page cache: far enough that the
// device has mostly written them (only clean pages are dropped).
const dropLag = 64 << 20

// writeBehind starts writing a file's pages to the device while the rest
// is still being read, hashed and written, window by window, instead of
// leaving all of them to the fsync at the end: the device works while the
// source is read, and the fsync finds little left (1 GiB: 0.49 s -> 0.10 s).
// It does not wait for a window to reach the device (SYNC_FILE_RANGE_WRITE
// alone): waiting for the window before, to bound the dirty pages, stalled
// the writer longer than the fsync it saved, and the kernel bounds dirty
// pages anyway. It changes when bytes reach the device, never what
// reaches it; the fsync at the end is what reports a write error, so the
// calls' own errors are left to it.
//
// It then drops the written pages from the page cache, dropLag behind,
// and the whole file once it is fsynced: an export of a datastore is far
// larger than memory, and its pages would push out the source's and the
// volume's metadata; the next windows are written into pages just freed
// (on the virtual machines measured here a write into pages the guest had
// not used for a while cost 1.6-3.2 s of system time per GiB: a 2 GiB
// export ran at 376-654 MB/s keeping its pages, 1126-1251 MB/s dropping
// them, cp then sync of the same bytes 562-1309 MB/s); and vmfsrecover
// verify then reads what the device holds, not the cache's copy.
type writeBehind struct {
	fd      int
	queued  int64 // bytes before it were handed to the device
	dropped int64 // bytes before it were dropped from the page cache
}

// written says that the file holds what the export wrote up to end.
func (w *writeBehind) written(end int64) {
	if end-w.queued < writeBehindWindow {
		return
	}
	_ = unix.SyncFileRange(w.fd, w.queued, end-w.queued, unix.SYNC_FILE_RANGE_WRITE)
	w.queued = end
	// Only clean pages are dropped: those still dirty or being written
	// stay until the end.
	if upto := w.queued - dropLag; upto-w.dropped >= writeBehindWindow {
		_ = unix.Fadvise(w.fd, w.dropped, upto-w.dropped, unix.FADV_DONTNEED)
		w.dropped = upto
	}
}

// synced says the file is on the device, every page clean: it drops the
// rest of them (a length of 0 is to the end of the file).
func (w *writeBehind) synced() {
	_ = unix.Fadvise(w.fd, w.dropped, 0, unix.FADV_DONTNEED)
}

func (c *localConn) Rename(ctx context.Context, from, to string) error {
	if err := c.checkEntry(to); err != nil {
		c.Remove(ctx, from) // a copy that may never take its place
		return err
	}
	if err := c.root.Rename(from, to); err != nil {
		return classifyLocal(err)
	}
	if c.sync {
		c.renamed.add(path.Dir(to))
	}
	return nil
}

func (c *localConn) Settle(ctx context.Context) error {
	if !c.sync {
		return nil
	}
	return c.renamed.settle(c.root)
}

func (c *localConn) Remove(ctx context.Context, name string) error {
	if err := c.checkEntry(name); err != nil {
		return err
	}
	return classifyLocal(c.root.Remove(name))
}

func (c *localConn) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := c.root.Open(name)
	return f, plainOSError(err)
}

func (c *localConn) Symlink(ctx context.Context, target, name string) error {
	return classifyLocal(c.root.Symlink(target, name))
}

// SetModTime sets the time of name itself: of a symbolic link, not of
// what it points to (os.Root has no Lchtimes).
func (c *localConn) SetModTime(ctx context.Context, name string, t time.Time) error {
	dir, base := splitPath(name)
	if dir == "" {
		dir = "."
	}
	d, err := c.root.Open(dir)
	if err != nil {
		return classifyLocal(err)
	}
	defer d.Close()
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.UtimesNanoAt(int(d.Fd()), base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return classifyLocal(&fs.PathError{Op: "setting the modification time of", Path: name, Err: err})
	}
	return nil
}

func (c *localConn) Close() error { return c.root.Close() }

// classifyLocal marks errors after which nothing more can be written.
func classifyLocal(err error) error {
	if err == nil {
		return nil
	}
	err = plainOSError(err)
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM} {
		if errors.Is(err, e) {
			return &fatalError{err: err}
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		return &fatalError{err: err}
	}
	return err
}

// rootOps are the names os.Root gives its operations in errors (the
// system calls), and the names a user knows them by.
var rootOps = map[string]string{
	"openat": "open", "statat": "stat", "fstatat": "stat", "mkdirat": "mkdir",
	"symlinkat": "symlink", "renameat": "rename", "unlinkat": "remove",
	"readlinkat": "readlink", "fchmodat": "chmod", "fchownat": "chown",
	"utimensat": "chtimes", "linkat": "link",
}

// plainOSError names an os.Root operation by what it does ("open", not
// "openat"): messages never show system-call names.
func plainOSError(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		if op := rootOps[e.Op]; op != "" {
			return &fs.PathError{Op: op, Path: e.Path, Err: e.Err}
		}
	case *os.LinkError:
		if op := rootOps[e.Op]; op != "" {
			return &os.LinkError{Op: op, Old: e.Old, New: e.New, Err: e.Err}
		}
	}
	return err
}

// ResumeOffset keeps the leading bytes of a partial file that equal the
// source's, in whole chunks: a partial file left by an export of another
// volume to the same place is rewritten from where it differs.
func (c *localConn) ResumeOffset(ctx context.Context, name string, src io.ReaderAt, size int64) (keep, have int64, err error) {
	have, err = c.Size(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil || have > size {
		return 0, have, err
	}
	keep, err = c.matchPrefix(ctx, name, src, have)
	return keep, have, err
}

// matchPrefix returns how many leading bytes of name, up to n, equal the
// source's, in whole chunks.
func (c *localConn) matchPrefix(ctx context.Context, name string, src io.ReaderAt, n int64) (int64, error) {
	f, err := c.root.Open(name)
	if err != nil {
		return 0, plainOSError(err)
	}
	defer f.Close()
	a, b := make([]byte, chunkSize), make([]byte, chunkSize)
	var off int64
	for off < n {
		if err := ctx.Err(); err != nil {
			return off, err
		}
		m := int(min(int64(chunkSize), n-off))
		if _, err := io.ReadFull(io.NewSectionReader(f, off, int64(m)), a[:m]); err != nil {
			return off, nil
		}
		if _, err := src.ReadAt(b[:m], off); err != nil {
			return off, err
		}
		if !bytes.Equal(a[:m], b[:m]) {
			return off, nil
		}
		off += int64(m)
	}
	return off, nil
}

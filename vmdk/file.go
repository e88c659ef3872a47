package vmdk

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// file is one opened file of a disk: a descriptor, an extent or both.
type file struct {
	name string // path shown in messages: the fs.FS path, with "/" in front for local files
	r    io.ReaderAt
	c    io.Closer
	size int64

	mapOnce sync.Once
	alloc   allocmap.Map // data ranges when the file knows its holes
	hasMap  bool
}

// openFile opens name in fsys for random access.
func openFile(fsys fs.FS, name, display string) (*file, error) {
	f, err := fsys.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // its path is relative to fsys: "/" would be lost
			return nil, &fs.PathError{Op: pe.Op, Path: display, Err: pe.Err}
		}
		return nil, err
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%s: %w: the file system gives no random access (io.ReaderAt)", display, ErrUnsupported)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", display, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", display)
	}
	size := fi.Size()
	if fi.Mode()&fs.ModeDevice != 0 {
		if s, ok := f.(io.Seeker); ok {
			if size, err = s.Seek(0, io.SeekEnd); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: size of device: %w", display, err)
			}
		}
	}
	return &file{name: display, r: ra, c: f, size: size}, nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

// readFull reads len(p) bytes at off; a short read is a FormatError naming
// the structure, since every structure must lie inside the file.
func (f *file) readFull(p []byte, off int64, structure string) error {
	if off < 0 || off > f.size || int64(len(p)) > f.size-off {
		return corrupt(f.name, structure, off, "%d bytes needed, file has %d", len(p), f.size)
	}
	n, err := f.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return corrupt(f.name, structure, off, "short read: %d of %d bytes", n, len(p))
	}
	return fmt.Errorf("%s: reading %s at byte %d: %w", f.name, structure, off, err)
}

// dataMap returns where the file holds data: from the file's own
// allocmap.Mapper (a VMFS file), from SEEK_DATA/SEEK_HOLE on a local sparse
// file, or nil with ok false when unknown (then all of it counts as data).
func (f *file) dataMap() (allocmap.Map, bool) {
	f.mapOnce.Do(func() {
		if m, ok := f.c.(allocmap.Mapper); ok {
			if am, err := m.AllocationMap(); err == nil {
				f.alloc, f.hasMap = am.Clip(f.size), true
			}
			return
		}
		if osf, ok := f.c.(*os.File); ok {
			f.alloc, f.hasMap = allocmap.OfFile(osf, f.size)
		}
	})
	return f.alloc, f.hasMap
}

// resolveExtent maps an extent file name from a descriptor in folder dir to
// a path in the file system. Names may not climb out of dir; absolute names
// (and Windows paths) are looked up by base name next to the descriptor, so
// a descriptor can never make the tool read /etc or /dev.
func resolveExtent(dir, name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if path.IsAbs(n) || (len(n) > 1 && n[1] == ':') {
		return path.Join(dir, path.Base(n)), nil
	}
	c := path.Clean(n)
	if c == ".." || strings.HasPrefix(c, "../") || c == "." {
		return "", fmt.Errorf("extent %q: %w", name, ErrPathEscape)
	}
	return path.Join(dir, c), nil
}

// parentCandidates lists where a parentFileNameHint may point, in the order
// robust readers try them: relative to the child, absolute as given, the
// base name next to the child; backslashes read as slashes.
func parentCandidates(dir, hint string) []string {
	var out []string
	add := func(p string) {
		p = strings.TrimPrefix(path.Clean(p), "/")
		if p == "" || !fs.ValidPath(p) {
			return
		}
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	for _, h := range []string{hint, strings.ReplaceAll(hint, "\\", "/")} {
		if !path.IsAbs(h) {
			add(path.Join(dir, h))
		} else {
			add(h)
		}
	}
	add(path.Join(dir, path.Base(strings.ReplaceAll(hint, "\\", "/"))))
	return out
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// LocalFile is a file of this machine's file system that a Disk reads.
type LocalFile struct {
	Path string      // absolute, as it was opened
	Info fs.FileInfo // of the opened file: its device and inode, whatever Path names now
}

// LocalFiles lists the files of the local file system the disk holds open:
// descriptors, extents, and those of every parent. A caller about to write
// compares them with what it writes to (package writeguard). Files read
// through another fs.FS (a VMFS volume, an SFTP host) are not on this
// machine and are not listed.
func (d *Disk) LocalFiles() []LocalFile {
	var out []LocalFile
	for _, f := range d.files {
		osf, ok := f.c.(*os.File)
		if !ok {
			continue
		}
		if fi, err := osf.Stat(); err == nil {
			out = append(out, LocalFile{Path: f.name, Info: fi})
		}
	}
	return out
}

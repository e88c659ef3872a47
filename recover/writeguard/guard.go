package writeguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// ErrSource classes refusals to write onto data a source is read from.
var ErrSource = errors.New("the write would land on a source")

// Error is a refused write: Target is Source, or the two share part of
// Via: a whole disk ("/dev/sda"), or the file behind a loop device.
type Error struct {
	Target string // the path to be written
	Source string // the source path it reaches
	Via    string // "" when Target is Source's file itself
}

func (e *Error) Error() string {
	if e.Target == e.Source {
		return fmt.Sprintf("refusing to write %s: this command reads it", e.Target)
	}
	switch e.Via {
	case "":
		return fmt.Sprintf("refusing to write %s: it is %s, which this command reads", e.Target, e.Source)
	case e.Source:
		return fmt.Sprintf("refusing to write %s: it writes into %s, which this command reads", e.Target, e.Source)
	case e.Target:
		return fmt.Sprintf("refusing to write %s: it holds %s, which this command reads", e.Target, e.Source)
	}
	return fmt.Sprintf("refusing to write %s: it shares %s with %s, which this command reads", e.Target, e.Via, e.Source)
}

func (e *Error) Unwrap() error { return ErrSource }

// Guard holds what the sources read. Build it (New, Add...) before the
// writes start; then Check methods may be called from several goroutines.
// A nil *Guard refuses nothing.
type Guard struct {
	sources []guarded
	blocks  sync.Map // blockKey to footprint: what /sys said of each block device
}

type guarded struct {
	path string
	fp   footprint
}

// footprint is what reading or writing a file touches: the data itself
// (direct), and the storage of the file systems the files among it lie on
// (under). Writing a file through its file system changes only that file
// among the files there, so under never clashes with under.
type footprint struct {
	direct, under layer
}

type layer struct {
	files []fileRange
	spans []span
}

func (fp *footprint) merge(o footprint) {
	fp.direct.files = append(fp.direct.files, o.direct.files...)
	fp.direct.spans = append(fp.direct.spans, o.direct.spans...)
	fp.under.files = append(fp.under.files, o.under.files...)
	fp.under.spans = append(fp.under.spans, o.under.spans...)
}

// fileRange is a byte range of a file: all of a file read or written as
// such, or the part of the file behind a loop device a partition covers.
type fileRange struct {
	path     string
	fi       fs.FileInfo // compared with os.SameFile
	off, end int64
	whole    bool
}

// span is a range of 512-byte sectors of a whole disk.
type span struct {
	disk       uint64 // device number of the whole disk
	start, end int64
	name       string // of the whole disk, for messages
}

// clash says what a and b share: via is "" when a file of each is the
// whole same file, else the disk or the file they share part of.
func clash(a, b layer) (via string, ok bool) {
	for _, x := range a.spans {
		for _, y := range b.spans {
			if x.disk == y.disk && x.start < y.end && y.start < x.end {
				return x.name, true
			}
		}
	}
	for _, x := range a.files {
		for _, y := range b.files {
			if os.SameFile(x.fi, y.fi) && x.off < y.end && y.off < x.end {
				if x.whole && y.whole {
					return "", true
				}
				return y.path, true
			}
		}
	}
	return "", false
}

// New returns an empty Guard.
func New() *Guard { return &Guard{} }

// Add records a source file at path, with fi from the opened file's Stat
// (or os.Stat of path).
func (g *Guard) Add(path string, fi fs.FileInfo) {
	g.sources = append(g.sources, guarded{path: path, fp: g.footprintOf(path, fi)})
}

// AddPath records the source at path, following symbolic links.
func (g *Guard) AddPath(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	g.Add(path, fi)
	return nil
}

// localFiler is implemented by disks that read local files (*vmdk.Disk,
// and the disks that embed one).
type localFiler interface{ LocalFiles() []vmdk.LocalFile }

// AddDisk records every local file an opened disk reads: for a VMDK its
// descriptors, extents and parents. A disk without local files (ssh://,
// nbd://) adds nothing.
func (g *Guard) AddDisk(d any) {
	lf, ok := d.(localFiler)
	if !ok {
		return
	}
	for _, f := range lf.LocalFiles() {
		g.Add(f.Path, f.Info)
	}
}

// Check refuses path when it reaches a source, following symbolic links.
// A path that does not exist yet reaches nothing: a writer that creates it
// checks the opened file with CheckFile before writing.
func (g *Guard) Check(path string) error {
	if g == nil || len(g.sources) == 0 {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return g.CheckInfo(path, fi)
}

// CheckFile refuses f, opened for writing at path, when it is or reaches
// a source. Call it before the first byte is written or the file is
// truncated.
func (g *Guard) CheckFile(path string, f *os.File) error {
	if g == nil || len(g.sources) == 0 {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checking %s against the sources: %w", path, err)
	}
	return g.CheckInfo(path, fi)
}

// CheckInfo refuses path, whose identity fi is (from an open file's Stat,
// or the Lstat of an entry a rename or removal would replace), when it
// reaches a source.
func (g *Guard) CheckInfo(path string, fi fs.FileInfo) error {
	if g == nil || len(g.sources) == 0 {
		return nil
	}
	t := g.footprintOf(path, fi)
	for _, s := range g.sources {
		for _, pair := range [][2]layer{
			{t.direct, s.fp.direct},
			// A raw write to the storage a source file lies on.
			{t.direct, s.fp.under},
			// A file written into a file system whose storage a source
			// reads raw.
			{t.under, s.fp.direct},
		} {
			if via, ok := clash(pair[0], pair[1]); ok {
				return &Error{Target: path, Source: s.path, Via: via}
			}
		}
	}
	return nil
}

// ForSources returns a Guard holding every local file that SOURCE
// arguments read: the path itself and, for a VMDK, its descriptors,
// extents and parents (found as vmdk.Open finds them, tolerantly, so a
// damaged chain still lists what it has). Remote sources (ssh://, nbd://)
// have no file on this machine. A source that cannot be opened adds what
// can be stat'ed of it: the command's own open reports the error.
func ForSources(specs []string) *Guard {
	g := New()
	for _, spec := range specs {
		if remote.IsRemote(spec) {
			continue
		}
		fi, err := os.Stat(spec)
		if err != nil {
			continue
		}
		g.Add(spec, fi)
		if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeDevice == 0 {
			continue // a FIFO would block the open; a folder is no disk
		}
		if d, err := vmdk.Open(spec, &vmdk.Options{Tolerant: true}); err == nil {
			g.AddDisk(d)
			d.Close()
		}
	}
	return g
}

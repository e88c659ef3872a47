package wizard

import (
	"context"
	"fmt"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Plan is what the confirm step shows: what will be copied, how much room
// it takes, how much there is.
type Plan struct {
	Destination string `json:"destination"`
	Files       int    `json:"files"`
	Dirs        int    `json:"dirs"`
	Links       int    `json:"links"`
	Bytes       int64  `json:"bytes"`     // sum of file sizes
	Allocated   int64  `json:"allocated"` // bytes that hold data; the rest are holes
	// Needed is what the destination must hold: Allocated on a local
	// folder (holes are written as holes), Bytes on FTP (no holes).
	Needed int64 `json:"needed"`
	// Free is the free space at a local destination; -1 when unknown (FTP).
	Free int64 `json:"free"`
	// Unreadable counts entries that could not be stat'ed; the export will
	// report them as failures.
	Unreadable int `json:"unreadable,omitempty"`
}

// makePlan walks the selection once, counting files and their allocated
// bytes.
func makePlan(ctx context.Context, fsys fs.FS, sel []string, d *Destination) (*Plan, error) {
	p := &Plan{Free: -1}
	for _, root := range sel {
		// A selected link is copied as a link: WalkDir would follow it.
		if info, err := lstat(fsys, root); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			p.Links++
			continue
		}
		err := fs.WalkDir(fsys, root, func(name string, de fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if err != nil {
				p.Unreadable++
				if de != nil && de.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if de.IsDir() && name != root {
				if info, err := de.Info(); err == nil && session.GuestDiskDir(info) {
					return fs.SkipDir // exported only when selected itself
				}
			}
			switch {
			case de.IsDir():
				p.Dirs++
			case de.Type()&fs.ModeSymlink != 0:
				p.Links++
			case de.Type().IsRegular():
				p.Files++
				info, err := de.Info()
				if err != nil {
					p.Unreadable++
					return nil
				}
				p.Bytes += info.Size()
				p.Allocated += allocated(fsys, name, info.Size())
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	p.Needed = p.Bytes
	switch d.Kind {
	case DestLocal:
		p.Destination = d.Dir
		p.Needed = p.Allocated
		if free, err := freeSpace(existingParent(d.Dir)); err == nil {
			p.Free = free
		}
	case DestFTP:
		p.Destination = d.URL
	}
	return p, nil
}

// allocated asks the file where its data is; a file that cannot say counts
// whole.
func allocated(fsys fs.FS, name string, size int64) int64 {
	f, err := fsys.Open(name)
	if err != nil {
		return size
	}
	defer f.Close()
	m, ok := f.(allocmap.Mapper)
	if !ok {
		return size
	}
	am, err := m.AllocationMap()
	if err != nil {
		return size
	}
	return am.Clip(size).Total()
}

// notOnSource refuses a destination folder that is a source or holds one:
// an export with overwrite could then replace the very image being
// recovered from, and recovering onto the evidence is how it gets lost.
func (w *Wizard) notOnSource(dir string) error {
	d := resolve(dir)
	for _, s := range w.st.Sources {
		if strings.Contains(s, "://") {
			continue
		}
		sa, err := filepath.Abs(s)
		if err != nil {
			continue
		}
		sa = resolve(sa)
		if rel, err := filepath.Rel(d, sa); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%w: destination %s holds the source %s; choose a folder beside it", ErrDestOnSource, dir, s)
		}
	}
	return nil
}

// resolve follows symbolic links as far as the path exists.
func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	return filepath.Join(resolve(parent), filepath.Base(p))
}

// existingParent is dir, or its nearest parent that exists: the file
// system a folder not created yet will be on.
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

package mount

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// WithRawImages returns fsys with a file NAME.raw beside every VMDK disk
// NAME.vmdk (a descriptor or a single-file sparse disk, not an extent: see
// vmdk.FlattenedOf): the disk flattened, its extents and snapshot chain
// read through vmdk.OpenFS with opts as the guest sees the disk, holes
// where the disk has none of its own data. A real file of that name wins.
// Listing a folder opens each disk in it once, for its capacity.
func WithRawImages(fsys fs.FS, opts *vmdk.Options) fs.FS {
	return &rawImages{fsys: fsys, opts: opts, images: map[string]*rawImage{}}
}

type rawImages struct {
	fsys fs.FS
	opts *vmdk.Options

	mu     sync.Mutex
	images map[string]*rawImage // by the disk's path
}

// rawImage is what one disk flattens to, found once.
type rawImage struct {
	once sync.Once
	flat *vmdk.Flattened // nil: not a disk of its own
	err  error
}

// flattened describes the image of the disk at vmdkPath (nil when there is
// none).
func (r *rawImages) flattened(vmdkPath string) (*vmdk.Flattened, error) {
	r.mu.Lock()
	img := r.images[vmdkPath]
	if img == nil {
		img = &rawImage{}
		r.images[vmdkPath] = img
	}
	r.mu.Unlock()
	img.once.Do(func() { img.flat, img.err = vmdk.FlattenedOf(r.fsys, vmdkPath, r.opts) })
	return img.flat, img.err
}

// rawEntries are the images of the disks among a folder's entries, as
// entries of that folder, sorted, except those a real entry already names.
func (r *rawImages) rawEntries(dir string, list []fs.DirEntry) []fs.DirEntry {
	var out []fs.DirEntry
	for _, e := range list {
		if !e.Type().IsRegular() || !vmdk.IsDiskName(e.Name()) {
			continue
		}
		raw := vmdk.RawName(e.Name())
		if slices.ContainsFunc(list, func(o fs.DirEntry) bool { return o.Name() == raw }) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		// A disk that does not open (a damaged descriptor) has no image.
		if flat, err := r.flattened(path.Join(dir, e.Name())); flat != nil && err == nil {
			out = append(out, fs.FileInfoToDirEntry(rawInfo{flat: flat, disk: info}))
		}
	}
	return out
}

// image finds the disk whose image name is: the disk's path and the
// image's description, or fs.ErrNotExist.
func (r *rawImages) image(op, name string) (string, fs.FileInfo, error) {
	notExist := &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	if !fs.ValidPath(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if !strings.HasSuffix(name, ".raw") {
		return "", nil, notExist
	}
	dir := path.Dir(name)
	list, err := fs.ReadDir(r.fsys, dir)
	if err != nil {
		return "", nil, notExist
	}
	for _, e := range r.rawEntries(dir, list) {
		if e.Name() == path.Base(name) {
			info, _ := e.Info()
			return path.Join(dir, info.(rawInfo).disk.Name()), info, nil
		}
	}
	return "", nil, notExist
}

func (r *rawImages) Open(name string) (fs.File, error) {
	f, err := r.fsys.Open(name)
	if err == nil {
		if info, err := f.Stat(); err == nil && info.IsDir() {
			list, err := r.ReadDir(name)
			if err != nil {
				f.Close()
				return nil, err
			}
			return &rawDir{File: f, rest: list}, nil
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	vmdkPath, info, ierr := r.image("open", name)
	if ierr != nil {
		return nil, err
	}
	d, err := vmdk.OpenFS(r.fsys, vmdkPath, r.opts)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &rawFile{Disk: d, info: info, r: io.NewSectionReader(d, 0, d.Size())}, nil
}

func (r *rawImages) ReadDir(name string) ([]fs.DirEntry, error) {
	list, err := fs.ReadDir(r.fsys, name)
	if err != nil {
		return list, err
	}
	raws := r.rawEntries(name, list)
	if len(raws) == 0 {
		return list, nil
	}
	out := append(slices.Clone(list), raws...)
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (r *rawImages) Stat(name string) (fs.FileInfo, error) {
	info, err := fs.Stat(r.fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		if _, raw, ierr := r.image("stat", name); ierr == nil {
			return raw, nil
		}
	}
	return info, err
}

func (r *rawImages) Lstat(name string) (fs.FileInfo, error) {
	info, err := fs.Lstat(r.fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		if _, raw, ierr := r.image("lstat", name); ierr == nil {
			return raw, nil
		}
	}
	return info, err
}

func (r *rawImages) ReadLink(name string) (string, error) { return fs.ReadLink(r.fsys, name) }

// rawInfo describes a disk's image: read-only, with the disk's time.
type rawInfo struct {
	flat *vmdk.Flattened
	disk fs.FileInfo // the disk's descriptor
}

func (i rawInfo) Name() string       { return i.flat.Name }
func (i rawInfo) Size() int64        { return i.flat.Size }
func (i rawInfo) Mode() fs.FileMode  { return 0o444 }
func (i rawInfo) ModTime() time.Time { return i.disk.ModTime() }
func (i rawInfo) IsDir() bool        { return false }
func (i rawInfo) Sys() any           { return nil }

// rawFile is an opened image: the disk read at any offset, its
// allocation map and warnings passed on.
type rawFile struct {
	*vmdk.Disk
	info fs.FileInfo
	r    *io.SectionReader
}

var _ allocmap.Mapper = (*rawFile)(nil)

func (f *rawFile) Stat() (fs.FileInfo, error)            { return f.info, nil }
func (f *rawFile) Read(p []byte) (int, error)            { return f.r.Read(p) }
func (f *rawFile) Seek(off int64, wh int) (int64, error) { return f.r.Seek(off, wh) }

// rawDir is an opened folder whose listing has the images.
type rawDir struct {
	fs.File
	rest []fs.DirEntry
}

func (d *rawDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		out := d.rest
		d.rest = nil
		return out, nil
	}
	if len(d.rest) == 0 {
		return nil, io.EOF
	}
	out := d.rest[:min(n, len(d.rest))]
	d.rest = d.rest[len(out):]
	return out, nil
}

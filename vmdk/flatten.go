package vmdk

import (
	"io/fs"
	"path"
	"strings"
)

// Flattened describes the raw image a VMDK disk flattens to: its extents
// and snapshot chain read as the guest sees the disk, as one file.
type Flattened struct {
	Name  string   // NAME.raw for the disk NAME.vmdk (a base name)
	Size  int64    // the disk's capacity
	Parts []string // the files of fsys the image is made of besides the disk's own
}

// FlattenedOf describes the raw image of the disk name of fsys (a
// descriptor or a single-file sparse disk), opened with opts (nil: the
// defaults). It returns nil and no error for a file that is not a disk of
// its own: an extent (flat, delta, SESparse, ...: a name IsExtentName
// knows that does not open as a disk) or a raw image whose name ends in
// .vmdk, which is its own flat image already.
func FlattenedOf(fsys fs.FS, name string, opts *Options) (*Flattened, error) {
	d, err := OpenFS(fsys, name, opts)
	if err != nil {
		if IsExtentName(name) {
			return nil, nil
		}
		return nil, err
	}
	info := d.Info()
	d.Close()
	if info.Kind == "raw" || (len(info.Chain) > 0 && info.Chain[0].Kind == "raw") {
		return nil, nil
	}
	dir := path.Dir(name)
	var parts []string
	seen := map[string]bool{}
	add := func(p string) {
		if p == "" {
			return
		}
		if !path.IsAbs(p) && !strings.Contains(p, "/") && dir != "." {
			p = path.Join(dir, p)
		}
		p = strings.TrimPrefix(path.Clean(p), "/")
		if !seen[p] && p != name {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	for _, l := range info.Chain {
		add(l.Path)
	}
	for _, e := range info.Extents {
		add(e.File)
	}
	return &Flattened{Name: RawName(name), Size: info.Capacity, Parts: parts}, nil
}

// RawName is the base name of the flattened image of the disk name:
// NAME.raw for NAME.vmdk (whatever the case of the extension), NAME.raw
// for another NAME.
func RawName(name string) string {
	base := path.Base(name)
	if strings.HasSuffix(strings.ToLower(base), ".vmdk") {
		base = base[:len(base)-len(".vmdk")]
	}
	return base + ".raw"
}

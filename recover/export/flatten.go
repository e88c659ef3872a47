package export

import (
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// Flat is a file exported as a flattened image instead of its own bytes.
type Flat struct {
	Name  string   // destination base name
	Size  int64    // of the image
	Parts []string // source files the image is made of; not exported
	// Open opens the image; the result also implements allocmap.Mapper when
	// it knows where its data is.
	Open func() (FlatImage, error)
}

// FlatImage is an opened flattened image.
type FlatImage interface {
	io.ReaderAt
	io.Closer
}

// VMDKFlattener returns the Options.Flatten that flattens a VMDK
// descriptor (or single-file sparse disk) with its extents and snapshot
// chain into one raw image named like the descriptor with .raw instead of
// .vmdk, read with opts (nil: the defaults). Files that are not a disk's
// descriptor (flat, delta and sparse extents, whose own name ends in
// .vmdk) are left alone: they are exported, or skipped as parts, as they
// are.
func VMDKFlattener(opts *vmdk.Options) func(fsys fs.FS, name string) (*Flat, error) {
	return func(fsys fs.FS, name string) (*Flat, error) { return flattenVMDK(fsys, name, opts) }
}

func flattenVMDK(fsys fs.FS, name string, opts *vmdk.Options) (*Flat, error) {
	d, err := vmdk.OpenFS(fsys, name, opts)
	if err != nil {
		if vmdk.IsExtentName(name) {
			return nil, nil // an extent on its own: export it as it is
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
	base := path.Base(name)
	base = base[:len(base)-len(".vmdk")] + ".raw"
	return &Flat{
		Name:  base,
		Size:  info.Capacity,
		Parts: parts,
		Open: func() (FlatImage, error) {
			return vmdk.OpenFS(fsys, name, opts)
		},
	}, nil
}

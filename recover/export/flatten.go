package export

import (
	"io"
	"io/fs"

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
	f, err := vmdk.FlattenedOf(fsys, name, opts)
	if f == nil || err != nil {
		return nil, err
	}
	return &Flat{
		Name:  f.Name,
		Size:  f.Size,
		Parts: f.Parts,
		Open: func() (FlatImage, error) {
			return vmdk.OpenFS(fsys, name, opts)
		},
	}, nil
}

package source

import (
	"fmt"
	"os"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// Options tune Open.
type Options struct {
	// Tolerant opens VMDKs with missing extents or parents, reading the
	// missing parts as zeros (see vmdk.Options).
	Tolerant bool
}

// Open opens a SOURCE read-only: a VMDK (descriptor, sparse or delta, with
// its extents and parents) through package vmdk, anything else (a disk or
// partition image, a block device) as a raw disk.
func Open(spec string, opts Options) (Disk, error) {
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a disk, image or VMDK", spec)
	}
	d, err := vmdk.Open(spec, &vmdk.Options{Tolerant: opts.Tolerant})
	if err != nil {
		return nil, err
	}
	if d.Size() == 0 {
		d.Close()
		return nil, fmt.Errorf("%s: %w", spec, ErrEmpty)
	}
	return d, nil
}

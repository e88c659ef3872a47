package disk

import (
	"errors"
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Disk is a read-only random-access source of known size, safe for
// concurrent ReadAt. A read past Size returns io.EOF, as os.File's does.
type Disk interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// BadRanger is implemented by disks that know byte ranges they cannot
// read (a ddrescue map, a missing RAID member). Those ranges read as zeros
// without error; BadRanges lists them, sorted and not overlapping, so
// that what is built on them can say which of its bytes are lost.
type BadRanger interface {
	BadRanges() allocmap.Map
}

// Transferrer is implemented by remote disks: the bytes read over the
// network so far, for a transfer rate in progress displays.
type Transferrer interface {
	Transferred() int64
}

// ErrEmpty reports a source of zero bytes (an empty file, or a block device
// whose size the kernel does not report).
var ErrEmpty = errors.New("source is empty")

// ErrNotPath: the SOURCE is a disk (an NBD export), not a path to a file
// or folder.
var ErrNotPath = errors.New("an NBD export is a whole disk, not a file or folder")

var errIsDir = errors.New("is a directory, not a disk image")

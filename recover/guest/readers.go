package guest

import (
	"errors"
	"fmt"
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/exfat"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/ext"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/fat"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/ntfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/xfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// opener opens one guest file system (see package guestfs).
type opener func(r io.ReaderAt, size int64, opts guestfs.Options) (guestfs.FS, error)

// readers is the one table from a file system's name, as partition.DetectFS
// gives it, to the reader that opens it. A name not here is listed but
// cannot be read (ErrNotReadable).
var readers = map[string]opener{
	partition.FSFAT12: asOpener(fat.Open),
	partition.FSFAT16: asOpener(fat.Open),
	partition.FSFAT32: asOpener(fat.Open),
	partition.FSExt2:  asOpener(ext.Open),
	partition.FSExt3:  asOpener(ext.Open),
	partition.FSExt4:  asOpener(ext.Open),
	partition.FSXFS:   asOpener(xfs.Open),
	partition.FSNTFS:  asOpener(ntfs.Open),
	partition.FSExFAT: asOpener(exfat.Open),
}

// asOpener turns a reader's Open, which returns its own type, into an
// opener.
func asOpener[F guestfs.FS](open func(io.ReaderAt, int64, guestfs.Options) (F, error)) opener {
	return func(r io.ReaderAt, size int64, opts guestfs.Options) (guestfs.FS, error) {
		f, err := open(r, size, opts)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
}

// ErrNotReadable: the file system was recognised but no reader of this
// tool reads it (Btrfs, ReFS, BitLocker, swap, VMFS inside a guest), or none was
// recognised.
var ErrNotReadable = errors.New("cannot be read yet")

// notReadable says what a volume holds that cannot be read, and how to copy
// it out for the file system's own tools: the byte range on its disk.
type notReadable struct {
	fsName      string // "" when no file system was recognised
	start, size int64  // on the disk; -1 for a logical volume
	// copyOut is the command that copies the range out, "" when the
	// disk's opener gave none.
	copyOut string
}

func (v *volume) notReadable() *notReadable {
	e := &notReadable{fsName: v.fsName, start: v.start, size: v.size}
	if v.copyOut != nil && v.start >= 0 {
		e.copyOut = v.copyOut(v.start, v.size)
	}
	return e
}

func (e *notReadable) Error() string {
	what := "no file system recognised"
	if e.fsName != "" {
		what = e.fsName + " " + ErrNotReadable.Error()
	}
	switch {
	case e.start < 0:
		return what
	case e.copyOut != "":
		return fmt.Sprintf("%s; copy it out with: %s, then use the file system's own tools", what, e.copyOut)
	}
	return fmt.Sprintf("%s; copy out its %d bytes from byte %d of the disk for the file system's own tools", what, e.size, e.start)
}

func (e *notReadable) Unwrap() error { return ErrNotReadable }

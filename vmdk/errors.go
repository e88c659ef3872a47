package vmdk

import (
	"errors"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Sentinel errors name classes of failure; test them with errors.Is.
var (
	// ErrCorrupt: a structure is inconsistent (the class of most
	// *ondisk.FormatErrors).
	ErrCorrupt = errors.New("corrupt VMDK")
	// ErrNotDescriptor: text that is not a VMDK descriptor.
	ErrNotDescriptor = errors.New("not a VMDK descriptor")
	// ErrUnsupported: a valid structure this reader does not handle.
	ErrUnsupported = errors.New("unsupported VMDK feature")
	// ErrExtentMissing: an extent file named by the descriptor cannot be opened.
	ErrExtentMissing = errors.New("extent file missing")
	// ErrParentMissing: the parent of a delta link cannot be found.
	ErrParentMissing = errors.New("parent disk missing")
	// ErrChainLoop: following parentFileNameHint comes back to a link already opened.
	ErrChainLoop = errors.New("snapshot chain loops")
	// ErrPathEscape: an extent file name climbs out of the descriptor's folder.
	ErrPathEscape = errors.New("extent path leaves the descriptor's folder")
	// ErrDeviceBacked: the extent's data lives on a LUN or host device
	// (VMFSRDM, VMFSRAW, a device path); the datastore holds only a pointer.
	ErrDeviceBacked = errors.New("extent data lives on a LUN or device, not in the datastore")
)

// A bad on-disk structure is a *ondisk.FormatError: the file, the structure,
// its byte offset in the file (-1 for a descriptor line) and the class
// (ErrCorrupt, ErrUnsupported), which errors.Is finds.

func corrupt(file, structure string, off int64, format string, a ...any) error {
	return &ondisk.FormatError{Path: file, Struct: structure, Off: off, Msg: fmt.Sprintf(format, a...), Err: ErrCorrupt}
}

func unsupported(file, structure string, off int64, format string, a ...any) error {
	return &ondisk.FormatError{Path: file, Struct: structure, Off: off, Msg: fmt.Sprintf(format, a...), Err: ErrUnsupported}
}

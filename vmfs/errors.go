package vmfs

import (
	"errors"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Sentinel errors for classes of failure; test with errors.Is.
var (
	// ErrNotVMFS: no VMFS signature where one was expected.
	ErrNotVMFS = errors.New("not a VMFS volume")
	// ErrUnsupported: a valid structure this reader does not handle.
	ErrUnsupported = errors.New("unsupported VMFS feature")
	// ErrExtentMissing: a spanned volume lacks one of its devices.
	ErrExtentMissing = errors.New("VMFS extent missing")
	// ErrCorrupt: a structure is inconsistent (the class of every
	// *ondisk.FormatError this package returns).
	ErrCorrupt = errors.New("corrupt VMFS metadata")
)

// corrupt reports a structure that failed to decode as a
// *ondisk.FormatError of class ErrCorrupt, its offset a volume offset unless
// the structure's name says otherwise.
func corrupt(structure string, off int64, format string, args ...any) error {
	return &ondisk.FormatError{Path: "vmfs", Struct: structure, Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

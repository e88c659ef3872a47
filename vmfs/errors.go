package vmfs

import (
	"errors"
	"fmt"
)

// Sentinel errors for classes of failure; test with errors.Is.
var (
	// ErrNotVMFS: no VMFS signature where one was expected.
	ErrNotVMFS = errors.New("not a VMFS volume")
	// ErrUnsupported: a valid structure this reader does not handle.
	ErrUnsupported = errors.New("unsupported VMFS feature")
	// ErrExtentMissing: a spanned volume lacks one of its devices.
	ErrExtentMissing = errors.New("VMFS extent missing")
	// ErrCorrupt: a structure is inconsistent (wrapped by *FormatError).
	ErrCorrupt = errors.New("corrupt VMFS metadata")
)

// FormatError reports a structure that failed to decode, with the byte
// offset where it lives (a volume offset unless the name says otherwise).
type FormatError struct {
	Struct string // e.g. "LVM header", "file descriptor 0x00400004"
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("vmfs: %s at offset %#x: %s", e.Struct, e.Offset, e.Msg)
}

// Is makes every FormatError match ErrCorrupt.
func (e *FormatError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(structure string, off int64, format string, args ...any) error {
	return &FormatError{Struct: structure, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

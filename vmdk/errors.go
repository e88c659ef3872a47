package vmdk

import (
	"errors"
	"fmt"
)

// Sentinel errors name classes of failure; test them with errors.Is.
var (
	// ErrCorrupt: a structure is inconsistent (every *FormatError matches it).
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

// FormatError reports a bad on-disk structure: which file, which structure,
// at which byte offset of that file.
type FormatError struct {
	File   string // path of the file (extent, descriptor) as opened
	Struct string // "sparse header", "grain table", "descriptor line 7", ...
	Off    int64  // byte offset in File; -1 when not applicable
	Msg    string
	Err    error // class: ErrCorrupt, ErrUnsupported, ...; nil means ErrCorrupt
}

func (e *FormatError) Error() string {
	if e.Off < 0 {
		return fmt.Sprintf("%s: %s: %s", e.File, e.Struct, e.Msg)
	}
	return fmt.Sprintf("%s: %s at byte %d: %s", e.File, e.Struct, e.Off, e.Msg)
}

func (e *FormatError) Unwrap() error {
	if e.Err == nil {
		return ErrCorrupt
	}
	return e.Err
}

func corrupt(file, structure string, off int64, format string, a ...any) error {
	return &FormatError{File: file, Struct: structure, Off: off, Msg: fmt.Sprintf(format, a...)}
}

func unsupported(file, structure string, off int64, format string, a ...any) error {
	return &FormatError{File: file, Struct: structure, Off: off, Msg: fmt.Sprintf(format, a...), Err: ErrUnsupported}
}

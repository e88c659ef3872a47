package ntfs

import (
	"errors"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Classes of the errors the reader returns, found with errors.Is through
// an *ondisk.FormatError.
var (
	// ErrNotNTFS: no NTFS boot sector, neither the primary nor its backup.
	ErrNotNTFS = errors.New("not an NTFS volume")
	// ErrCorrupt: a structure of the volume is damaged.
	ErrCorrupt = errors.New("corrupt NTFS structure")
	// ErrUnsupported: a structure the reader does not decode (EFS encryption).
	ErrUnsupported = errors.New("unsupported NTFS feature")
)

func corrupt(what string, off int64, format string, args ...any) error {
	return &ondisk.FormatError{Path: "ntfs", Struct: what, Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

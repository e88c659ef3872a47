package ext

import (
	"errors"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Classes of the *ondisk.FormatError the reader returns; errors.Is finds
// them.
var (
	// ErrNotExt: no ext2/3/4 superblock, neither the primary nor a backup.
	ErrNotExt = errors.New("not an ext2/3/4 file system")
	// ErrCorrupt: a structure that cannot be what it claims.
	ErrCorrupt = errors.New("corrupt ext file system")
	// ErrUnsupported: a feature the reader does not read (an external
	// journal device, encrypted names).
	ErrUnsupported = errors.New("unsupported ext feature")
)

// fail is the error for structure at byte off of the file system.
func fail(class error, structure string, off int64, format string, a ...any) error {
	return &ondisk.FormatError{Path: "ext", Struct: structure, Off: off, Msg: fmt.Sprintf(format, a...), Err: class}
}

func corrupt(structure string, off int64, format string, a ...any) error {
	return fail(ErrCorrupt, structure, off, format, a...)
}

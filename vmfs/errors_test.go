package vmfs

import (
	"errors"
	"os"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// TestCorruptIsFormatError: damage gives a *ondisk.FormatError naming the
// structure and its offset, of class ErrCorrupt.
func TestCorruptIsFormatError(t *testing.T) {
	file, err := os.Open(fuzzBase(t)[0]) // a VMFS5 volume, bare partition
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	fi, _ := file.Stat()
	// The volume descriptor's logical size (dev 0x100200, LVM5) set to 2^60.
	dev := patched{Device: fileDevice{file, fi.Size()}, off: 0x100200, patch: []byte{0, 0, 0, 0, 0, 0, 0, 0x10}}
	_, err = Open([]Device{dev}, Options{})
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || fe.Struct != "LVM volume descriptor" || fe.Off != 0x100200 || fe.Path != "vmfs" {
		t.Fatalf("err = %v, want a FormatError for the LVM volume descriptor at 0x100200", err)
	}
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotVMFS) {
		t.Errorf("err = %v: not of class ErrCorrupt alone", err)
	}
}

package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

func TestOpenReadsRawImagesAndDescriptors(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk-flat.vmdk")
	data := make([]byte, 4096)
	copy(data[1000:], "payload")
	if err := os.WriteFile(raw, data, 0o444); err != nil {
		t.Fatal(err)
	}
	desc := filepath.Join(dir, "disk.vmdk")
	os.WriteFile(desc, []byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\nRW 8 VMFS \"disk-flat.vmdk\"\n"), 0o444)
	for _, p := range []string{raw, desc} {
		d, err := Open(p, Options{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		buf := make([]byte, 7)
		if _, err := d.ReadAt(buf, 1000); err != nil || string(buf) != "payload" {
			t.Fatalf("%s: ReadAt = %q, %v", p, buf, err)
		}
		if d.Size() != 4096 {
			t.Fatalf("%s: Size = %d", p, d.Size())
		}
		if _, isVMDK := d.(*vmdk.Disk); isVMDK != (p == desc) {
			t.Errorf("%s: opened as %T: a raw disk is read by package disk, a descriptor by package vmdk", p, d)
		}
		d.Close()
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a directory opened as a source")
	}
}

// Open's errors name the SOURCE once: "source SPEC: ..." for a local one,
// the URL package remote puts first for a remote one; the cause is kept.
func TestOpenErrorsNameTheSource(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(empty, nil, 0o644)
	_, err := Open(empty, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "source "+empty+": ") || !errors.Is(err, ErrEmpty) {
		t.Errorf("local: %v", err)
	}
	_, err = Open("nbd://127.0.0.1:1/x", Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "nbd://127.0.0.1:1/x: ") || strings.Count(err.Error(), "nbd://") != 1 {
		t.Errorf("remote: %v", err)
	}
}

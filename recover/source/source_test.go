package source

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenFileReadsAndIsReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, []byte("hello disk"), 0o444); err != nil {
		t.Fatal(err)
	}
	d, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != 10 {
		t.Fatalf("Size = %d, want 10", d.Size())
	}
	buf := make([]byte, 4)
	if _, err := d.ReadAt(buf, 6); err != nil || string(buf) != "disk" {
		t.Fatalf("ReadAt = %q, %v", buf, err)
	}
	if _, err := d.(*file).Write([]byte("x")); err == nil {
		t.Fatal("write to a source succeeded; sources must be opened read-only")
	}
}

func TestOpenFileRejectsEmptyAndDirs(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.img")
	os.WriteFile(empty, nil, 0o644)
	if _, err := OpenFile(empty); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty file: err = %v, want ErrEmpty", err)
	}
	if _, err := OpenFile(dir); err == nil {
		t.Fatal("directory accepted as a disk")
	}
	if _, err := OpenFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
}

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
		d.Close()
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a directory opened as a source")
	}
}

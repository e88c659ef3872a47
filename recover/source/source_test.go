package source

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenInReadsAndIsReadOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "disk.img"), []byte("hello disk"), 0o444); err != nil {
		t.Fatal(err)
	}
	d, err := OpenIn(os.DirFS(dir), "disk.img")
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
	if _, err := d.(*file).File.(*os.File).Write([]byte("x")); err == nil {
		t.Fatal("write to a source succeeded; sources must be opened read-only")
	}
}

func TestOpenInRejectsEmptyAndDirs(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "empty.img"), nil, 0o644)
	fsys := os.DirFS(dir)
	if _, err := OpenIn(fsys, "empty.img"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty file: err = %v, want ErrEmpty", err)
	}
	if _, err := OpenIn(fsys, "sub"); err == nil || !strings.Contains(err.Error(), "sub: is a directory") {
		t.Fatalf("directory: err = %v, want one naming it a directory", err)
	}
	if _, err := OpenIn(fsys, "missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
}

// A local path opens in the root file system, whatever the working
// directory; an NBD export is no path.
func TestOpenPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "esx.conf"), []byte("/a = \"b\"\n"), 0o444)
	t.Chdir(dir)
	fsys, name, closeFS, err := OpenPath("esx.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer closeFS()
	if b, err := fs.ReadFile(fsys, name); err != nil || string(b) != "/a = \"b\"\n" {
		t.Fatalf("%s: %q, %v", name, b, err)
	}
	if _, _, _, err := OpenPath("nbd://127.0.0.1:1/x"); !errors.Is(err, ErrNotPath) {
		t.Fatalf("nbd:// SOURCE: err = %v, want ErrNotPath", err)
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

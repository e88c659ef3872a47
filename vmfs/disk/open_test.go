package disk

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
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
	if n, err := d.ReadAt(buf, 8); n != 2 || err != io.EOF {
		t.Fatalf("ReadAt across the end = %d, %v; want 2, EOF", n, err)
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

// A local path locates in the root file system, whatever the working
// directory; an NBD export is no path.
func TestLocate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "esx.conf"), []byte("/a = \"b\"\n"), 0o444)
	t.Chdir(dir)
	loc, err := Locate("esx.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	if b, err := fs.ReadFile(loc.FS, loc.Name); err != nil || string(b) != "/a = \"b\"\n" {
		t.Fatalf("%s: %q, %v", loc.Name, b, err)
	}
	if loc.Remote() || loc.Transferred() != 0 {
		t.Errorf("a local path is remote (%v) or transferred %d bytes", loc.Remote(), loc.Transferred())
	}
	if _, err := Locate("nbd://127.0.0.1:1/x", Options{}); !errors.Is(err, ErrNotPath) {
		t.Fatalf("nbd:// SOURCE: err = %v, want ErrNotPath", err)
	}
}

// Open reads a VMDK as the bytes of its file: interpreting it is the
// layer above's work.
func TestOpenReadsFilesRaw(t *testing.T) {
	dir := t.TempDir()
	desc := filepath.Join(dir, "disk.vmdk")
	text := []byte("# Disk DescriptorFile\nversion=1\ncreateType=\"vmfs\"\n\nRW 8 VMFS \"disk-flat.vmdk\"\n")
	os.WriteFile(desc, text, 0o444)
	d, err := Open(desc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := make([]byte, d.Size())
	if _, err := d.ReadAt(got, 0); err != nil || !bytes.Equal(got, text) {
		t.Fatalf("ReadAt = %q, %v", got, err)
	}
	if _, ok := d.(Transferrer); ok {
		t.Error("a local disk claims to transfer bytes over a network")
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.HasPrefix(err.Error(), "source "+dir+": "+dir+": is a directory") {
		t.Fatalf("directory: err = %v", err)
	}
}

// Open's errors name the SOURCE once: "source SPEC: ..." for a local one,
// the URL package remote puts first for a remote one; the cause is kept.
func TestOpenErrorsNameTheSource(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(empty, nil, 0o644)
	_, err := Open(empty, Options{})
	if err == nil || err.Error() != "source "+empty+": "+empty+": source is empty" || !errors.Is(err, ErrEmpty) {
		t.Errorf("local: %v", err)
	}
	_, err = Open(filepath.Join(t.TempDir(), "missing.img"), Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "source ") {
		t.Errorf("missing: %v", err)
	}
	ro := &remote.Options{RetryFor: -1}
	_, err = Open("nbd://127.0.0.1:1/x", Options{Remote: ro})
	if err == nil || !strings.HasPrefix(err.Error(), "nbd://127.0.0.1:1/x: ") || strings.Count(err.Error(), "nbd://") != 1 {
		t.Errorf("remote: %v", err)
	}
	for _, spec := range []string{"ftp://host/x", "ssh://host", "ssh://user:secret@host/dev/sdb", "nbd://"} {
		_, err := Open(spec, Options{})
		if !errors.Is(err, remote.ErrBadURL) {
			t.Errorf("%s: err = %v, want ErrBadURL", spec, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the password shows in the error: %v", spec, err)
		}
	}
}

// A local sparse image says where its data is, so what copies it can keep
// its holes; a file that cannot say is all data.
func TestOpenMapsSparseFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sparse.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte{1}, 4096), 1<<20)
	f.Truncate(4 << 20)
	f.Close()
	d, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := d.(allocmap.Mapper).AllocationMap()
	if err != nil {
		t.Fatal(err)
	}
	if m.Total() >= 4<<20 {
		testenv.Lacks(t, "the file system of the temporary folder reports no holes: %v", m)
	}
	if len(m) != 1 || m[0].Off > 1<<20 || m[0].End() < 1<<20+4096 {
		t.Fatalf("map %v does not hold the one data block at 1 MiB", m)
	}
}

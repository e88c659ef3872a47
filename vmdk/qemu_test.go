package vmdk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// TestQemuReadsOwnFixtures: qemu-img convert -O raw, an independent reader,
// must read the COWD and SESparse files of vmdktest exactly as we expect;
// then a pass of our reader over the same files is evidence about the
// formats, not just about agreement with our own writer.
func TestQemuReadsOwnFixtures(t *testing.T) {
	testenv.Tool(t, "qemu-img")
	dir := t.TempDir()
	raw := vmdktest.Pattern(rawSize, 1)
	for _, f := range ownFixtures(t, dir, raw) {
		t.Run(f.name, func(t *testing.T) {
			if f.name == "own/custom-multi-extent" {
				t.Skip("qemu drops ZERO and RDONLY extent lines (docs/formats/vmdk.md, Extent lines)")
			}
			out := filepath.Join(dir, filepath.Base(f.path)+".raw")
			run(t, "qemu-img", "convert", "-f", "vmdk", "-O", "raw", f.path, out)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, f.want) {
				t.Fatalf("qemu-img reads %d bytes differing first at %d from what vmdktest meant", len(got), firstDiff(got, f.want))
			}
		})
	}
}

// A monolithicSparse parent renamed after qemu-img made a snapshot of it
// is found by the CID in its embedded descriptor.
func TestRenamedSparseParent(t *testing.T) {
	testenv.Tool(t, "qemu-img")
	dir := t.TempDir()
	raw := vmdktest.Pattern(rawSize, 9)
	rawPath := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	base, child := filepath.Join(dir, "base.vmdk"), filepath.Join(dir, "child.vmdk")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", rawPath, base)
	run(t, "qemu-img", "create", "-f", "vmdk", "-F", "vmdk", "-b", "base.vmdk", child)
	if err := os.Rename(base, base+".encrypted"); err != nil {
		t.Fatal(err)
	}
	d, err := Open(child, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	conform(t, d, raw)
	if w := d.Warnings(); len(w) != 1 || !bytes.Contains([]byte(w[0]), []byte("base.vmdk.encrypted has the CID")) {
		t.Errorf("warnings %q", w)
	}
}

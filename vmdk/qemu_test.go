package vmdk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// TestQemuReadsOwnFixtures: qemu-img convert -O raw, an independent reader,
// must read the COWD and SESparse files of vmdktest exactly as we expect;
// then a pass of our reader over the same files is evidence about the
// formats, not just about agreement with our own writer.
func TestQemuReadsOwnFixtures(t *testing.T) {
	needTool(t, "qemu-img")
	dir := t.TempDir()
	raw := vmdktest.Pattern(rawSize, 1)
	for _, f := range ownFixtures(t, dir, raw) {
		t.Run(f.name, func(t *testing.T) {
			if f.name == "own/custom-multi-extent" {
				t.Skip("qemu drops ZERO and RDONLY extent lines (vmdk-format.md §3.4)")
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

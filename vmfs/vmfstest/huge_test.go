package vmfstest

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHugeFiles writes a 300 GiB thin file (data at the start, across the
// 256 GiB boundary and at the end) on both versions. vmfs-tools cannot
// read VMFS5 double-indirect files, and streaming 300 GiB through
// debugvmfs6 is too slow, so the tools list the volume, debugvmfs6 maps
// chosen offsets (get_file_block) and reads those blocks (read_block), and
// the doc-rules reader checks the VMFS5 file. Nothing hashes the 300 GiB,
// so this runs in well under a second.
func TestHugeFiles(t *testing.T) {
	for _, v := range []int{5, 6} {
		t.Run(fmt.Sprintf("vmfs%d", v), func(t *testing.T) {
			r, err := Write(filepath.Join(t.TempDir(), "huge.img"), Spec{Version: v, Files: HugeEntries()})
			if err != nil {
				t.Fatal(err)
			}
			e := r.Lookup("/huge/disk-flat.vmdk")
			want := map[Addressing]bool{Double: v == 5, Pointers: v == 6}
			if !want[e.Addressing] {
				t.Errorf("VMFS%d 300 GiB file uses %s addressing", v, e.Addressing)
			}
			tl := newTool(t, v, r.Image)
			got, err := tl.ls("/huge")
			if err != nil {
				t.Fatal(err)
			}
			if g := got["disk-flat.vmdk"]; g.size != e.Size || g.typ != '-' {
				t.Errorf("ls: disk-flat.vmdk %c %d, want - %d", g.typ, g.size, e.Size)
			}
			small := r.Lookup("/huge/disk.vmdk")
			sum, _ := small.SHA256()
			if got, _, err := tl.sha256(small.Path); err != nil || got != sum {
				t.Errorf("cat %s: %s %v, want %s", small.Path, got, err, sum)
			}
			offsets := []int64{0, 256*gib - mib, 256 * gib, 299 * gib, e.Size - 1}
			checkOwnReading(t, r.Image, r, e, offsets)
			if v == 6 {
				for _, off := range offsets {
					checkToolBlock(t, tl, e, off)
				}
			}
		})
	}
}

// checkToolBlock asks debugvmfs6 which block holds off and compares that
// block, as the tool reads it, with the intended content.
func checkToolBlock(t *testing.T, tl *tool, e *Expect, off int64) {
	t.Helper()
	var out bytes.Buffer
	copyOut := func(r io.Reader) error { _, err := io.Copy(&out, r); return err }
	if err := tl.stream(copyOut, "get_file_block", e.Path, strconv.FormatInt(off, 16)); err != nil {
		t.Fatal(err)
	}
	addr, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(out.String()), "0x"), 16, 64)
	if err != nil {
		t.Fatalf("get_file_block %#x: %q: %v", off, out.String(), err)
	}
	start := off / mib * mib
	want := make([]byte, min(mib, e.Size-start))
	e.ReadAt(want, start)
	if addr == 0 {
		if !allZero(want) {
			t.Errorf("get_file_block %#x: a hole, but the file has data there", off)
		}
		return
	}
	out.Reset()
	if err := tl.stream(copyOut, "read_block", fmt.Sprintf("%#x", addr)); err != nil {
		t.Fatal(err)
	}
	if got := out.Bytes(); len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
		t.Errorf("read_block %#x (offset %#x): %d bytes differ from the intended content", addr, off, len(got))
	}
}

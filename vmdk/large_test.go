package vmdk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// TestLargeSplitDisk: a 5 GiB disk split by qemu-img into three extents
// (sparse and flat), data placed across the 2 GiB and 4 GiB boundaries and at
// the very end. Files stay sparse, so this costs a few MiB of disk.
func TestLargeSplitDisk(t *testing.T) {
	testenv.Tool(t, "qemu-img")
	if testing.Short() {
		t.Skip("-short")
	}
	const size = 5 << 30
	dir := t.TempDir()
	rawPath := filepath.Join(dir, "big.raw")
	f, err := os.Create(rawPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	chunks := map[int64][]byte{}
	for i, off := range []int64{0, 2<<30 - 40000, 4<<30 - 512, 4<<30 + 1<<20 + 4096, size - 100000} {
		b := vmdktest.Pattern(100000, uint64(i+10))
		chunks[off] = b
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	for _, sub := range []string{"twoGbMaxExtentSparse", "twoGbMaxExtentFlat"} {
		t.Run(sub, func(t *testing.T) {
			p := filepath.Join(dir, sub+".vmdk")
			run(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+sub, rawPath, p)
			d, err := Open(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Size() != size || len(d.Info().Extents) != 3 {
				t.Fatalf("size %d, %d extents", d.Size(), len(d.Info().Extents))
			}
			for off, want := range chunks {
				got := make([]byte, len(want)+2000)
				start := max(off-1000, 0)
				n, _ := d.ReadAt(got, start)
				exp := make([]byte, len(got))
				copy(exp[off-start:], want)
				if !bytes.Equal(got[:n], exp[:n]) || n < len(want) {
					t.Fatalf("read at %d differs (n=%d)", start, n)
				}
			}
			m, err := d.AllocationMap()
			if err != nil {
				t.Fatal(err)
			}
			if tot := m.Total(); tot > 5*(100000+2*65536) {
				t.Errorf("allocated %d bytes for 5 chunks of 100000", tot)
			}
			// Every non-zero byte lies inside the map.
			for off, want := range chunks {
				for i := 0; i < len(want); i += 509 {
					if want[i] == 0 {
						continue
					}
					x := off + int64(i)
					in := false
					for _, r := range m {
						in = in || (x >= r.Off && x < r.End())
					}
					if !in {
						t.Fatalf("byte %d holds data but is outside the allocation map", x)
					}
				}
			}
		})
	}
}

package vmfs

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestHugeFile reads a 300 GiB thin file (VMFS5: double indirect past 256
// GiB; VMFS6: PB2) at its data ranges and checks the holes and the
// allocation map, where the older readers fail or read zeros.
func TestHugeFile(t *testing.T) {
	for _, v := range []int{5, 6} {
		res, err := vmfstest.Write(filepath.Join(t.TempDir(), "huge.img"), vmfstest.Spec{Version: v, Files: vmfstest.HugeEntries()})
		if err != nil {
			t.Fatal(err)
		}
		vol := openResult(t, res)
		want := res.Lookup("/huge/disk-flat.vmdk")
		f, err := vol.Open("huge/disk-flat.vmdk")
		if err != nil {
			t.Fatal(err)
		}
		file := f.(*File)
		if file.Size() != want.Size {
			t.Fatalf("VMFS%d: size %d, want %d", v, file.Size(), want.Size)
		}
		const mib = 1 << 20
		for _, off := range []int64{0, 5 * mib, 256<<30 - mib, 256 << 30, 256<<30 + mib/2, want.Size - mib} {
			got, exp := make([]byte, mib/2), make([]byte, mib/2)
			if _, err := file.ReadAt(got, off); err != nil && err != io.EOF {
				t.Fatalf("VMFS%d: ReadAt(%d): %v", v, off, err)
			}
			want.ReadAt(exp, off)
			if !bytes.Equal(got, exp) {
				t.Errorf("VMFS%d: bytes at %d differ", v, off)
			}
		}
		m, err := file.AllocationMap()
		if err != nil {
			t.Fatal(err)
		}
		var wantTotal int64
		for _, r := range want.Allocated {
			wantTotal += r.Len
		}
		if m.Total() != wantTotal {
			t.Errorf("VMFS%d: allocation map %v (%d bytes), want %v", v, m, m.Total(), want.Allocated)
		}
		if a := file.Attributes(); v == 5 && a.Addressing != "double indirect" {
			t.Errorf("VMFS5 huge file addressing %q", a.Addressing)
		}
	}
}

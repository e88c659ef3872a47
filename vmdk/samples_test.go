package vmdk

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// TestCommittedSamples reads every committed fixture (written by qemu-img
// and VMDKstream, see testdata/vmdk/generate.sh at the top) and compares the sha256 of the
// whole virtual disk with the one qemu-img computed when it was generated.
// It needs no outside tool.
func TestCommittedSamples(t *testing.T) {
	f, err := os.Open(testenv.Testdata(t, "vmdk", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			d, err := Open(testenv.Testdata(t, "vmdk", "samples", name), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(d, 0, d.Size())); err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != sum {
				t.Errorf("sha256 %s, want %s", got, sum)
			}
			if w := d.Warnings(); len(w) > 0 {
				t.Errorf("warnings: %v", w)
			}
		})
	}
	if n < 7 {
		t.Fatalf("only %d samples listed", n)
	}
}

// TestOpenFS opens the samples through an fs.FS that is not the local file
// system (as a VMFS volume will be): extents and parents resolve inside it.
func TestOpenFS(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, n := range []string{"chain/base.vmdk", "chain/child.vmdk", "qemu/twoGbMaxExtentFlat.vmdk", "qemu/twoGbMaxExtentFlat-f001.vmdk"} {
		b, err := os.ReadFile(testenv.Testdata(t, "vmdk", "samples", n))
		if err != nil {
			t.Fatal(err)
		}
		fsys["ds/"+n] = &fstest.MapFile{Data: b}
	}
	for _, n := range []string{"chain/child.vmdk", "qemu/twoGbMaxExtentFlat.vmdk"} {
		d, err := OpenFS(fsys, "ds/"+n, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, io.NewSectionReader(d, 0, d.Size()))
		if in := d.Info(); in.Chain[len(in.Chain)-1].Path == "" || in.Extents[0].File != "ds/"+strings.Replace(n, ".vmdk", map[bool]string{true: ".vmdk", false: "-f001.vmdk"}[strings.HasPrefix(n, "chain")], 1) {
			t.Errorf("%s: info paths %+v", n, in.Extents)
		}
		d.Close()
		local, err := Open(testenv.Testdata(t, "vmdk", "samples", n), nil)
		if err != nil {
			t.Fatal(err)
		}
		h2 := sha256.New()
		io.Copy(h2, io.NewSectionReader(local, 0, local.Size()))
		local.Close()
		if !bytes.Equal(h.Sum(nil), h2.Sum(nil)) {
			t.Errorf("%s: read through fs.FS differs from the local read", n)
		}
	}
}

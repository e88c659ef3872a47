package vmdk

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedSamples reads every committed fixture (written by qemu-img
// and VMDKstream, see testdata/generate.sh) and compares the sha256 of the
// whole virtual disk with the one qemu-img computed when it was generated.
// It needs no outside tool.
func TestCommittedSamples(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "SHA256SUMS"))
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
			d, err := Open(filepath.Join("testdata", "samples", name), nil)
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

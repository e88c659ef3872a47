package vmdk

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

func sampleSum(t *testing.T, name string) string {
	b, err := os.ReadFile(testenv.Testdata(t, "vmdk", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if sum, n, _ := strings.Cut(l, "  "); n == name {
			return sum
		}
	}
	t.Fatalf("%s not in SHA256SUMS", name)
	return ""
}

// TestStreamMarkerScan damages the footer of a VMDKstream file and the
// grain directories of a qemu streamOptimized file: strict mode refuses
// them with a FormatError, tolerant mode rebuilds the grain map from the
// grain markers and reads every byte right.
func TestStreamMarkerScan(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b []byte)
	}{
		{"vmdkstream/streamOptimized.vmdk", func(b []byte) { clear(b[len(b)-1536:]) }},
		{"qemu/streamOptimized.vmdk", func(b []byte) {
			binary.LittleEndian.PutUint64(b[48:], 1<<40) // rgd
			binary.LittleEndian.PutUint64(b[56:], 1<<40) // gd
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(testenv.Testdata(t, "vmdk", "samples", c.name))
			if err != nil {
				t.Fatal(err)
			}
			c.damage(b)
			p := writeTemp(t, t.TempDir(), "damaged.vmdk", b)
			if _, err := Open(p, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("strict open: %v, want ErrCorrupt", err)
			}
			d, err := Open(p, &Options{Tolerant: true})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(d, 0, d.Size())); err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != sampleSum(t, c.name) {
				t.Errorf("rebuilt read sha256 %s differs", got)
			}
			if w := strings.Join(d.Warnings(), "\n"); !strings.Contains(w, "rebuilt from 9 grain markers") {
				t.Errorf("warnings: %s", w)
			}
		})
	}
}

package vmfs

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestBackingAgreesWithReadAt: on generated volumes opened from local
// images (a bare volume and one in a GPT partition), wherever a file says
// its bytes lie in the image, the image holds there what ReadAt gives;
// holes and resident files never claim to; and a file laid out in one run
// (multi.bin, written contiguously) claims every range.
func TestBackingAgreesWithReadAt(t *testing.T) {
	for name, spec := range generatedSpecs() {
		if name != "vmfs6" && name != "vmfs5-gpt" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			res, err := vmfstest.Write(filepath.Join(t.TempDir(), name+".img"), spec)
			if err != nil {
				t.Fatal(err)
			}
			vol := openBacked(t, res.Image)
			rng := rand.New(rand.NewPCG(7, 8))
			claimed := map[string]int{}
			for _, p := range []string{"multi.bin", "frag.bin", "thin-flat.vmdk", "small.bin", "resident.txt"} {
				f, err := vol.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				file := f.(*File)
				size := file.Size()
				for range 200 {
					off := rng.Int64N(size)
					n := 1 + rng.Int64N(min(size-off, 2<<20))
					img, at, ok := file.Backing(off, n)
					if !ok {
						continue
					}
					claimed[p]++
					want := make([]byte, n)
					if _, err := file.ReadAt(want, off); err != nil {
						t.Fatal(err)
					}
					got := make([]byte, n)
					if _, err := img.ReadAt(got, at); err != nil || !bytes.Equal(got, want) {
						t.Fatalf("%s: bytes %d+%d said to lie at %d of the image differ (%v)", p, off, n, at, err)
					}
				}
				if _, _, ok := file.Backing(size-1, 2); ok {
					t.Errorf("%s: a range past the end claimed", p)
				}
			}
			if claimed["multi.bin"] != 200 {
				t.Errorf("multi.bin, written in one run: %d of 200 ranges claimed", claimed["multi.bin"])
			}
			if claimed["resident.txt"] != 0 {
				t.Errorf("resident.txt: %d ranges claimed, but its bytes lie in its descriptor", claimed["resident.txt"])
			}
			f, _ := vol.Open("thin-flat.vmdk")
			if _, _, ok := f.(*File).Backing(2<<20, 4096); ok {
				t.Error("thin-flat.vmdk: a range in its hole claimed")
			}
		})
	}
}

// openBacked opens the volume of a one-extent image through package disk,
// whose local files say where their bytes lie (disk.Backed).
func openBacked(t *testing.T, image string) *Volume {
	t.Helper()
	d, err := disk.Open(image, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cands, _, err := Find(d, d.Size(), FindOptions{})
	if err != nil || len(cands) != 1 {
		t.Fatalf("Find: %+v, %v", cands, err)
	}
	vol, err := Open([]Device{disk.NewSection(d, cands[0].Offset, cands[0].Size)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return vol
}

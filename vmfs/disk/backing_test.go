package disk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// TestBacking: a local image and a section of it say where their bytes
// lie; nothing past their ends, and nothing of a disk with ranges known
// lost, whose bytes are not the image's as they are.
func TestBacking(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, ok := d.(Backed)
	if !ok {
		t.Fatalf("%T: a local image is not Backed", d)
	}
	if f, at, ok := b.Backing(4096, 8192); !ok || at != 4096 || f.Name() != p {
		t.Errorf("image Backing(4096, 8192) = %v %d %v", f, at, ok)
	}
	if _, _, ok := b.Backing(1<<20-10, 11); ok {
		t.Error("a range past the image's end claimed")
	}
	s := NewSection(d, 65536, 65536)
	if _, at, ok := s.Backing(100, 1000); !ok || at != 65636 {
		t.Errorf("section Backing(100, 1000) = %d %v, want 65636", at, ok)
	}
	if _, _, ok := s.Backing(65000, 1000); ok {
		t.Error("a range past the section's end claimed")
	}
	lost := NewSection(WithBadRanges(d, allocmap.Map{{Off: 0, Len: 512}}), 65536, 65536)
	if _, _, ok := lost.Backing(100, 1000); ok {
		t.Error("a section of a disk with lost ranges claimed its bytes lie in the image as they are")
	}
}

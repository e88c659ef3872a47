package fingerprint

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

// failing fails every read that touches [off, off+n).
type failing struct {
	r      *bytes.Reader
	off, n int64
}

func (f failing) ReadAt(p []byte, off int64) (int, error) {
	if off < f.off+f.n && off+int64(len(p)) > f.off {
		return 0, errors.New("input/output error")
	}
	return f.r.ReadAt(p, off)
}

func TestPrintCoversTheWholeDisk(t *testing.T) {
	disk := make([]byte, 64<<20)
	for i := range disk {
		disk[i] = byte(i * 7 / 4096)
	}
	base, err := Take(bytes.NewReader(disk), int64(len(disk)))
	if err != nil || base.Unreadable != 0 {
		t.Fatalf("Take: %+v, %v", base, err)
	}
	if again, _ := Take(bytes.NewReader(bytes.Clone(disk)), int64(len(disk))); again != base {
		t.Fatalf("same content, other print: %+v, %+v", again, base)
	}
	// A change in the middle, away from the ends, where a sample lies.
	mid := bytes.Clone(disk)
	mid[len(mid)/128*63/4096*4096] ^= 1
	p, _ := Take(bytes.NewReader(mid), int64(len(mid)))
	if p.Ends != base.Ends || p.Spread == base.Spread || EndsOf(p.ID()) != EndsOf(base.ID()) || p.ID() == base.ID() {
		t.Fatalf("a change at a sample: %+v, base %+v", p, base)
	}
	// An unreadable sample still gives a print, which says so.
	p, err = Take(failing{bytes.NewReader(disk), 32 << 20, 1 << 20}, int64(len(disk)))
	if err != nil || p.Unreadable == 0 || p.ID() == base.ID() {
		t.Fatalf("unreadable sample: %+v, %v", p, err)
	}
	if _, err := Take(failing{bytes.NewReader(disk), 0, int64(len(disk))}, int64(len(disk))); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("nothing readable: %v", err)
	}
	// A disk smaller than the ends.
	if _, err := Take(bytes.NewReader(disk[:1000]), 1000); err != nil {
		t.Fatal(err)
	}
}

func TestDuplicates(t *testing.T) {
	a := bytes.Repeat([]byte("disk a.."), 1<<18)
	b := bytes.Clone(a)
	b[len(b)/2] ^= 1
	disks := []io.ReaderAt{bytes.NewReader(a), bytes.NewReader(b), bytes.NewReader(a), bytes.NewReader(a[:1<<20]), bytes.NewReader(bytes.Clone(a))}
	sizes := []int64{int64(len(a)), int64(len(b)), int64(len(a)), 1 << 20, int64(len(a))}
	got := Duplicates(disks, sizes)
	want := []int{-1, -1, 0, -1, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("Duplicates = %v, want %v", got, want)
	}
}

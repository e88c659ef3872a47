package guestfs

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzExtents reads files laid out in extents by a seed and checks every
// read against the file put together byte by byte.
func FuzzExtents(f *testing.F) {
	f.Add([]byte{3, 4, 0, 5, 2, 7}, int64(40), int64(3), 9)
	f.Add([]byte{1, 1, 1, 1}, int64(4), int64(0), 100)
	f.Fuzz(func(t *testing.T, layout []byte, size, off int64, n int) {
		if len(layout) > 64 || size < 0 || size > 4096 || n < 0 || n > 4096 {
			return
		}
		dev := make([]byte, 1024)
		for i := range dev {
			dev[i] = byte(i*7 + 1)
		}
		// Pairs of layout bytes: a hole before the extent, then its length;
		// extents lie on the device at offsets that follow from the seed.
		e := &Extents{R: bytes.NewReader(dev), Size: size, Fail: func(int64, error) error { return errTest }}
		want := make([]byte, size)
		var at int64
		for i := 0; i+1 < len(layout); i += 2 {
			at += int64(layout[i])
			x := Extent{Off: at, Dev: int64(layout[i]) * 3, Len: int64(layout[i+1])}
			e.List = append(e.List, x)
			for k := int64(0); k < x.Len && x.Off+k < size; k++ {
				want[x.Off+k] = dev[x.Dev+k]
			}
			at += x.Len
		}
		p := make([]byte, n)
		got, err := e.ReadAt(p, off)
		switch {
		case off < 0:
			if err == nil {
				t.Fatal("negative offset read")
			}
		case off >= size:
			if got != 0 || err != io.EOF {
				t.Fatalf("read at %d of %d bytes: %d, %v", off, size, got, err)
			}
		default:
			end := min(off+int64(n), size)
			if int64(got) != end-off || !bytes.Equal(p[:got], want[off:end]) {
				t.Fatalf("read %d at %d: %d bytes %v, want %v", n, off, got, p[:got], want[off:end])
			}
			if (err == io.EOF) != (end < off+int64(n)) || err != nil && err != io.EOF {
				t.Fatalf("read %d at %d of %d: %v", n, off, size, err)
			}
		}
		m, _ := e.AllocationMap()
		if err := m.Validate(size); err != nil {
			t.Fatal(err)
		}
	})
}

var errTest = errors.New("test read failed")

func TestExtentsShortDevice(t *testing.T) {
	var failedAt int64
	e := &Extents{R: bytes.NewReader(make([]byte, 100)), Size: 50, List: []Extent{{Off: 0, Dev: 80, Len: 50}},
		Fail: func(dev int64, err error) error { failedAt = dev; return errTest }}
	if _, err := e.ReadAt(make([]byte, 50), 0); !errors.Is(err, errTest) || failedAt != 100 {
		t.Fatalf("read past the device: %v at %d", err, failedAt)
	}
	if got := e.DevOff(10); got != 90 {
		t.Fatalf("DevOff(10) = %d", got)
	}
	if got := e.DevOff(60); got != -1 {
		t.Fatalf("DevOff(60) = %d", got)
	}
}

func TestAddRunMerges(t *testing.T) {
	var e Extents
	e.AddRun(100, 2, 10)
	e.AddRun(120, 1, 10)
	e.AddRun(500, 3, 10)
	want := []Extent{{0, 100, 30}, {30, 500, 30}}
	if len(e.List) != 2 || e.List[0] != want[0] || e.List[1] != want[1] {
		t.Fatalf("extents %v, want %v", e.List, want)
	}
}

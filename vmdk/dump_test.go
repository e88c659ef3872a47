package vmdk

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// memWriter is a concurrency-safe io.WriterAt into a byte slice that
// records which bytes were written.
type memWriter struct {
	mu      sync.Mutex
	b       []byte
	touched []bool
}

func (w *memWriter) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	copy(w.b[off:], p)
	t := w.touched[off : off+int64(len(p))]
	for i := range t {
		t[i] = true
	}
	return len(p), nil
}

func TestCopySparse(t *testing.T) {
	const size = 12 << 20
	src := vmdktest.Pattern(size, 9)
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 5; round++ {
		// A random map: many small ranges, some long ones crossing windows.
		var rs []allocmap.Range
		for i := 0; i < 200; i++ {
			off := rng.Int64N(size)
			n := 1 + rng.Int64N(map[bool]int64{true: 9 << 20, false: 100000}[i%50 == 0])
			rs = append(rs, allocmap.Range{Off: off, Len: min(n, size-off)})
		}
		m := allocmap.Normalize(rs)
		// Windows cover the map exactly once.
		var mapped int64
		var prevEnd int64
		for _, w := range windows(m, copyChunk) {
			if w.n <= 0 || w.n > copyChunk || w.off < prevEnd {
				t.Fatalf("bad window %+v after %d", w, prevEnd)
			}
			prevEnd = w.off + w.n
			mapped += w.mapped
		}
		if mapped != m.Total() {
			t.Fatalf("windows map %d bytes, the map has %d", mapped, m.Total())
		}
		// As the allocation-map contract says, the source reads as zeros
		// outside the map.
		want := make([]byte, size)
		for _, r := range m {
			copy(want[r.Off:r.End()], src[r.Off:r.End()])
		}
		w := &memWriter{b: make([]byte, size), touched: make([]bool, size)}
		var last int64
		n, err := CopySparse(context.Background(), w, bytes.NewReader(want), m, func(done int64) {
			if done < last {
				t.Errorf("progress went back: %d after %d", done, last)
			}
			last = done
		})
		if err != nil {
			t.Fatal(err)
		}
		if last != m.Total() {
			t.Errorf("final progress %d, want %d", last, m.Total())
		}
		if i := firstDiff(w.b, want); i >= 0 {
			t.Fatalf("round %d: output differs at %d", round, i)
		}
		inMap := make([]bool, size)
		for _, r := range m {
			for i := r.Off; i < r.End(); i++ {
				inMap[i] = true
			}
		}
		var touched int64
		for i, tch := range w.touched {
			if tch {
				touched++
				if !inMap[i] && w.b[i] != 0 {
					t.Fatalf("non-zero byte %d written outside the map", i)
				}
			}
		}
		if touched != n {
			t.Errorf("reported %d bytes written, %d touched", n, touched)
		}
		// Holes stay holes: at most the 64 KiB blocks that hold mapped bytes
		// are written.
		if bound := m.Total() + int64(len(m))*2*zeroBlock; n > bound {
			t.Errorf("%d bytes written for %d mapped bytes in %d ranges", n, m.Total(), len(m))
		}
	}
	// A failing source stops the copy with its error.
	boom := errors.New("boom")
	_, err := CopySparse(context.Background(), &memWriter{b: make([]byte, size), touched: make([]bool, size)}, failingReader{boom}, allocmap.Map{{Off: 0, Len: size}}, nil)
	if !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	// A cancelled context stops it too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CopySparse(ctx, &memWriter{b: make([]byte, size), touched: make([]bool, size)}, bytes.NewReader(src), allocmap.Map{{Off: 0, Len: size}}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

type failingReader struct{ err error }

func (f failingReader) ReadAt(p []byte, off int64) (int, error) { return 0, f.err }

// Package disktest is the conformance suite of disk.Disk: every way of
// reading a disk (a local file, an SSH host, an NBD export, a cache, a
// RAID set) must read the same bytes the same way, and Check says so.
package disktest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
)

// Check reads d as every Disk must read: Size is len(want); a read inside
// the disk returns exactly want's bytes, whatever its offset and length;
// a read across the end returns the bytes before it with io.EOF, one at
// or past the end 0 and io.EOF; a negative offset is an error; readers
// running at once all get the right bytes (run with -race). Offsets are
// drawn from a seeded source, so a failure repeats.
func Check(t *testing.T, d disk.Disk, want []byte) {
	t.Helper()
	size := int64(len(want))
	if d.Size() != size {
		t.Fatalf("Size = %d, want %d", d.Size(), size)
	}
	read := func(rng *rand.Rand) error {
		n := 1 + rng.IntN(min(len(want), 3<<20))
		if rng.IntN(4) == 0 {
			n = 1 + rng.IntN(4096)
		}
		off := rng.Int64N(size - int64(n) + 1)
		if rng.IntN(3) == 0 {
			off &^= 511 // sector-aligned, as most readers read
		}
		buf := make([]byte, n)
		if got, err := d.ReadAt(buf, off); got != n || err != nil && err != io.EOF {
			t.Errorf("ReadAt(%d bytes, %d) = %d, %v", n, off, got, err)
			return err
		}
		if !bytes.Equal(buf, want[off:off+int64(n)]) {
			t.Errorf("ReadAt(%d bytes, %d): wrong bytes", n, off)
		}
		return nil
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 64 {
		if read(rng) != nil {
			return
		}
	}

	tail := min(size, 1000)
	buf := make([]byte, tail+500)
	if n, err := d.ReadAt(buf, size-tail); n != int(tail) || err != io.EOF || !bytes.Equal(buf[:n], want[size-tail:]) {
		t.Errorf("read across the end: %d, %v; want %d bytes and io.EOF", n, err, tail)
	}
	for _, off := range []int64{size, size + 1, size + 1<<40} {
		if n, err := d.ReadAt(buf[:10], off); n != 0 || err != io.EOF {
			t.Errorf("read at %d, the size being %d: %d, %v; want 0, io.EOF", off, size, n, err)
		}
	}
	if _, err := d.ReadAt(buf[:10], -1); err == nil {
		t.Error("read at offset -1 succeeded")
	}
	if n, err := d.ReadAt(nil, 0); n != 0 || err != nil && err != io.EOF {
		t.Errorf("empty read: %d, %v", n, err)
	}

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(3, uint64(g)))
			for range 16 {
				if read(rng) != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Image returns size bytes that differ at every offset of a disk (no two
// 512-byte sectors alike), so a read from the wrong place shows.
func Image(size int) []byte {
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 7))
	for i := 0; i+8 <= size; i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

package adler

import (
	"hash/adler32"
	"math/rand/v2"
	"testing"
)

// Both implementations, whichever Update uses here.
var implementations = map[string]func(uint32, []byte) uint32{
	"Update":   Update,
	"portable": updatePortable,
}

func TestMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 200000)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	ff := make([]byte, 3*vectorMax+100) // all 0xFF: the worst case for overflow
	for i := range ff {
		ff[i] = 0xFF
	}
	for name, update := range implementations {
		for _, b := range [][]byte{nil, {1}, buf[:7], buf[:8], buf[:9], buf[:63], buf[:64], buf[:65], buf[:5552], buf[:5553], buf, ff, ff[:vectorMax], ff[:5551], buf[1 : vectorMax+33]} {
			if got, want := update(1, b), adler32.Checksum(b); got != want {
				t.Fatalf("%s, len %d: %08x, want %08x", name, len(b), got, want)
			}
		}
		for range 500 {
			a, n := rng.IntN(len(buf)), rng.IntN(100000)
			b := buf[a:min(a+n, len(buf))]
			// In pieces, as a stream is hashed.
			cut := rng.IntN(len(b) + 1)
			if got, want := update(update(1, b[:cut]), b[cut:]), adler32.Checksum(b); got != want {
				t.Fatalf("%s, piece %d+%d cut %d: %08x, want %08x", name, a, n, cut, got, want)
			}
		}
	}
}

// The vector kernel, where this machine has it, is what Update uses for
// long inputs: the test above would otherwise check the portable code
// twice.
func TestVectorUsedWhereAvailable(t *testing.T) {
	if !useVector {
		t.Skip("no vector kernel on this CPU or architecture: Update is the portable code")
	}
	b := make([]byte, 4096)
	b[100] = 7
	if got, want := updateVector(1, b), adler32.Checksum(b); got != want {
		t.Fatalf("updateVector: %08x, want %08x", got, want)
	}
}

func FuzzUpdate(f *testing.F) {
	f.Add([]byte("hello"), 3)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		if cut < 0 || cut > len(b) {
			cut = len(b) / 2
		}
		for name, update := range implementations {
			if got, want := update(update(1, b[:cut]), b[cut:]), adler32.Checksum(b); got != want {
				t.Fatalf("%s: %08x, want %08x", name, got, want)
			}
		}
	})
}

func benchmark(b *testing.B, update func(uint32, []byte) uint32) {
	buf := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		update(1, buf)
	}
}

func BenchmarkUpdate(b *testing.B)   { benchmark(b, Update) }
func BenchmarkPortable(b *testing.B) { benchmark(b, updatePortable) }
func BenchmarkStdlib(b *testing.B) {
	benchmark(b, func(_ uint32, p []byte) uint32 { return adler32.Checksum(p) })
}

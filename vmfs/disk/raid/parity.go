package raid

import (
	"errors"
	"fmt"
	"sync"
)

// piece is the part of one data chunk of a row that a read covers.
type piece struct {
	s   int64  // row
	j   int    // data index in the row
	m   int    // member holding it
	in  int64  // offset inside the chunk
	buf []byte // destination, len = bytes wanted
	err error  // nil when buf holds the member's bytes
}

func (a *Array) readParity(p []byte, off int64) error {
	n := len(a.members)
	ch := a.g.Chunk
	rowBytes := ch * int64(n-a.g.Level.parity())
	var r row
	var pieces []piece
	for q, pos := p, off; len(q) > 0; {
		s := pos / rowBytes
		parityRow(a.g.Level, a.g.Layout, n, s, &r)
		in := pos - s*rowBytes
		j := int(in / ch)
		l := min(int64(len(q)), ch-in%ch)
		pieces = append(pieces, piece{s: s, j: j, m: r.data[j], in: in % ch, buf: q[:l]})
		q, pos = q[l:], pos+l
	}
	a.readPieces(pieces)
	for i := 0; i < len(pieces); {
		k := i
		for k < len(pieces) && pieces[k].s == pieces[i].s {
			k++
		}
		row := pieces[i:k]
		for t := range row {
			if row[t].err == nil {
				continue
			}
			parityRow(a.g.Level, a.g.Layout, n, row[t].s, &r)
			if err := a.rebuild(&r, row[t].s, row, t); err != nil {
				return fmt.Errorf("array offset %#x: %w", row[t].s*rowBytes+int64(row[t].j)*ch+row[t].in, err)
			}
		}
		i = k
	}
	return nil
}

// readPieces reads every piece from its member.
func (a *Array) readPieces(pieces []piece) {
	for i := range pieces {
		pc := &pieces[i]
		pc.err = a.readMember(pc.m, pc.buf, pc.s*a.g.Chunk+pc.in)
	}
}

// rebuild computes pieces[t] of row s from the row's other members. Data
// already read into the other pieces is used as it is.
func (a *Array) rebuild(r *row, s int64, pieces []piece, t int) error {
	target := pieces[t]
	rb := &rebuilder{a: a, r: r, l: int64(len(target.buf)), at: s*a.g.Chunk + target.in}
	defer rb.release()
	data, unknown := rb.known(pieces, target)
	pbuf, qbuf := rb.parity(len(unknown))
	out := target.buf
	switch {
	case len(unknown) == 1 && pbuf != nil:
		copy(out, pbuf)
		for j := range data {
			if j != target.j {
				xorInto(out, data[j])
			}
		}
	case len(unknown) == 1 && qbuf != nil:
		a.syndrome(r, data, out, nil, 0)
		xorInto(out, qbuf)
		mulInto(out, gfInv(gfPow(r.coef[r.data[target.j]])))
	case len(unknown) == 2 && pbuf != nil && qbuf != nil:
		other := unknown[0]
		if other == target.j {
			other = unknown[1]
		}
		rb.solveTwo(data, pbuf, qbuf, target.j, other, target.in, out, pieces)
	default:
		return fmt.Errorf("%w: row %d, data chunk %d on member %d: %w", ErrUnrecoverable, s, target.j, r.data[target.j], target.err)
	}
	a.reconstructed.Add(rb.l)
	if !errors.Is(target.err, errMissing) {
		a.readErrors.Add(1)
	}
	return nil
}

// rebuilder reads what one rebuild needs from the other members of a row,
// l bytes at member offset at each, into pooled scratch buffers.
type rebuilder struct {
	a    *Array
	r    *row
	l    int64
	at   int64
	bufs [][]byte
}

func (rb *rebuilder) release() {
	for _, b := range rb.bufs {
		scratchPool.Put(&b)
	}
}

func (rb *rebuilder) scratch() []byte {
	if v, ok := scratchPool.Get().(*[]byte); ok && int64(cap(*v)) >= rb.l {
		rb.bufs = append(rb.bufs, (*v)[:rb.l])
	} else {
		rb.bufs = append(rb.bufs, make([]byte, rb.l))
	}
	return rb.bufs[len(rb.bufs)-1]
}

// fetch returns member m's bytes for the range, or nil when it fails.
func (rb *rebuilder) fetch(m int) []byte {
	b := rb.scratch()
	if rb.a.readMember(m, b, rb.at) != nil {
		return nil
	}
	return b
}

// known gathers the row's data chunks over the range (nil = unknown): from
// the pieces the read already holds, else from their members; unknown
// lists the data indexes that could not be had, the target's first.
func (rb *rebuilder) known(pieces []piece, target piece) (data [][]byte, unknown []int) {
	data = make([][]byte, len(rb.r.data))
	for j, m := range rb.r.data {
		if j == target.j {
			unknown = append(unknown, j)
			continue
		}
		for _, pc := range pieces {
			if pc.j == j && pc.err == nil && pc.in <= target.in && pc.in+int64(len(pc.buf)) >= target.in+rb.l {
				data[j] = pc.buf[target.in-pc.in:][:rb.l]
			}
		}
		if data[j] == nil {
			data[j] = rb.fetch(m)
		}
		if data[j] == nil {
			unknown = append(unknown, j)
		}
	}
	return data, unknown
}

// parity reads the parity the rebuild of lost data chunks needs: P for
// one, Q too (RAID 6) when P fails or for two; nil for what fails.
func (rb *rebuilder) parity(lost int) (pbuf, qbuf []byte) {
	if lost == 1 {
		pbuf = rb.fetch(rb.r.p)
	}
	if pbuf == nil || lost == 2 {
		if rb.a.g.Level == RAID6 && lost <= 2 {
			qbuf = rb.fetch(rb.r.q)
			if lost == 2 {
				pbuf = rb.fetch(rb.r.p)
			}
		}
	}
	return pbuf, qbuf
}

// solveTwo computes lost data chunk x into out (from chunk offset in)
// from P and Q when chunk y is lost too, and fills y's piece when the
// read wants it over the same bytes.
func (rb *rebuilder) solveTwo(data [][]byte, pbuf, qbuf []byte, x, y int, in int64, out []byte, pieces []piece) {
	r := rb.r
	ga, gb := gfPow(r.coef[r.data[x]]), gfPow(r.coef[r.data[y]])
	// Dx^Dy = P ^ Σ other data; g^a·Dx ^ g^b·Dy = Q ^ Σ g^c·D; so
	// Dx = (Qxy ^ g^b·Pxy) / (g^a ^ g^b).
	pxy := rb.scratch()
	copy(pxy, pbuf)
	for j := range data {
		if data[j] != nil {
			xorInto(pxy, data[j])
		}
	}
	rb.a.syndrome(r, data, out, pxy, r.coef[r.data[y]])
	xorInto(out, qbuf)
	mulInto(out, gfInv(ga^gb))
	// The other lost chunk is Dy = Pxy ^ Dx: when the read wants it
	// too over the same bytes, fill it now rather than solving again.
	for i := range pieces {
		if pc := &pieces[i]; pc.j == y && pc.err != nil && pc.in == in && len(pc.buf) == len(out) {
			copy(pc.buf, pxy)
			xorInto(pc.buf, out)
			if !errors.Is(pc.err, errMissing) {
				rb.a.readErrors.Add(1)
			}
			pc.err = nil
			rb.a.reconstructed.Add(rb.l)
		}
	}
}

// scratchPool holds the buffers rebuilds read other members into.
var scratchPool sync.Pool

// syndrome sets q to Σ g^coef·D over the known data chunks (nil ones count
// as zeros), by Horner's rule from the highest coefficient down, one pass
// over q per known chunk: the doublings for the unknown chunks between two
// known ones are done in the same pass. extra, when not nil, is added as
// if it were the data chunk at coefficient extraCoef (a lost chunk's
// place): a rebuild of two lost chunks needs g^b·Pxy beside the syndrome.
func (a *Array) syndrome(r *row, data [][]byte, q []byte, extra []byte, extraCoef int) {
	bySlot := make([][]byte, len(r.coef))
	for j, m := range r.data {
		if data[j] != nil {
			bySlot[r.coef[m]] = data[j]
		}
	}
	if extra != nil {
		bySlot[extraCoef] = extra
	}
	last := -1 // coefficient of the last chunk added to q
	for c := len(bySlot) - 1; c >= 0; c-- {
		d := bySlot[c]
		if d == nil {
			continue
		}
		if last < 0 {
			copy(q, d)
		} else {
			mulPow2Xor(q, d[:len(q)], last-c)
		}
		last = c
	}
	switch {
	case last < 0:
		clear(q)
	case last > 0:
		mulPow2Xor(q, nil, last)
	}
}

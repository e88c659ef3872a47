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
	ch := a.g.Chunk
	l := int64(len(target.buf))
	at := s*ch + target.in
	var bufs [][]byte
	defer func() {
		for _, b := range bufs {
			scratchPool.Put(&b)
		}
	}()
	scratch := func() []byte {
		if v, ok := scratchPool.Get().(*[]byte); ok && int64(cap(*v)) >= l {
			bufs = append(bufs, (*v)[:l])
		} else {
			bufs = append(bufs, make([]byte, l))
		}
		return bufs[len(bufs)-1]
	}
	// fetch returns member m's bytes for the range, or nil when it fails.
	fetch := func(m int) []byte {
		b := scratch()
		if a.readMember(m, b, at) != nil {
			return nil
		}
		return b
	}
	data := make([][]byte, len(r.data)) // nil = unknown
	var unknown []int
	for j, m := range r.data {
		if j == target.j {
			unknown = append(unknown, j)
			continue
		}
		for _, pc := range pieces {
			if pc.j == j && pc.err == nil && pc.in <= target.in && pc.in+int64(len(pc.buf)) >= target.in+l {
				data[j] = pc.buf[target.in-pc.in:][:l]
			}
		}
		if data[j] == nil {
			data[j] = fetch(m)
		}
		if data[j] == nil {
			unknown = append(unknown, j)
		}
	}
	var pbuf, qbuf []byte
	if len(unknown) == 1 {
		pbuf = fetch(r.p)
	}
	if pbuf == nil || len(unknown) == 2 {
		if a.g.Level == RAID6 && len(unknown) <= 2 {
			qbuf = fetch(r.q)
			if len(unknown) == 2 {
				pbuf = fetch(r.p)
			}
		}
	}
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
		ga, gb := gfPow(r.coef[r.data[target.j]]), gfPow(r.coef[r.data[other]])
		// Dx^Dy = P ^ Σ other data; g^a·Dx ^ g^b·Dy = Q ^ Σ g^c·D; so
		// Dx = (Qxy ^ g^b·Pxy) / (g^a ^ g^b).
		pxy := scratch()
		copy(pxy, pbuf)
		for j := range data {
			if data[j] != nil {
				xorInto(pxy, data[j])
			}
		}
		a.syndrome(r, data, out, pxy, r.coef[r.data[other]])
		xorInto(out, qbuf)
		mulInto(out, gfInv(ga^gb))
		// The other lost chunk is Dy = Pxy ^ Dx: when the read wants it
		// too over the same bytes, fill it now rather than solving again.
		for i := range pieces {
			if pc := &pieces[i]; pc.j == other && pc.err != nil && pc.in == target.in && len(pc.buf) == len(out) {
				copy(pc.buf, pxy)
				xorInto(pc.buf, out)
				if !errors.Is(pc.err, errMissing) {
					a.readErrors.Add(1)
				}
				pc.err = nil
				a.reconstructed.Add(l)
			}
		}
	default:
		return fmt.Errorf("%w: row %d, data chunk %d on member %d: %w", ErrUnrecoverable, s, target.j, r.data[target.j], target.err)
	}
	a.reconstructed.Add(l)
	if !errors.Is(target.err, errMissing) {
		a.readErrors.Add(1)
	}
	return nil
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

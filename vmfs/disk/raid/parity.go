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
	if err := rb.solve(data, unknown, target, pieces); err != nil {
		return fmt.Errorf("%w: row %d, data chunk %d on member %d: %w (%w)", ErrUnrecoverable, s, target.j, r.data[target.j], target.err, err)
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

// errTooManyLost is a row with more data chunks lost than its parity
// covers.
var errTooManyLost = errors.New("more data chunks lost than the parity covers")

// solve computes the target's lost data chunk: from P when it is the only
// one lost; from Q (RAID 6) when P fails too, or with P when another data
// chunk is lost, which then fills its piece at once when the read wants
// it over the same bytes. It reads only the parity that takes.
func (rb *rebuilder) solve(data [][]byte, unknown []int, target piece, pieces []piece) error {
	parity := rb.a.g.Level.parity()
	if len(unknown) > parity {
		return errTooManyLost
	}
	coder, order, err := rb.a.coder(rb.r)
	if err != nil {
		return err
	}
	d := len(order)
	shards := make([][]byte, d+parity) // data in Q order, P, Q; empty = lost
	want := make([]bool, d)
	var also *piece // the other lost chunk's piece, when the read wants the same bytes
	for i := range pieces {
		pc := &pieces[i]
		if len(unknown) == 2 && pc.j == unknown[1] && pc.err != nil && pc.in == target.in && len(pc.buf) == len(target.buf) {
			also = pc
		}
	}
	for k, j := range order {
		switch {
		case j == target.j:
			shards[k], want[k] = target.buf[:0], true
		case also != nil && j == also.j:
			shards[k], want[k] = also.buf[:0], true
		default:
			shards[k] = data[j] // nil when lost
		}
	}
	shards[d] = rb.fetch(rb.r.p)
	if parity == 2 && (len(unknown) == 2 || shards[d] == nil) {
		shards[d+1] = rb.fetch(rb.r.q)
	}
	if err := coder.ReconstructSome(shards, want); err != nil {
		return err
	}
	if also != nil {
		if !errors.Is(also.err, errMissing) {
			rb.a.readErrors.Add(1)
		}
		also.err = nil
		rb.a.reconstructed.Add(rb.l)
	}
	return nil
}

// scratchPool holds the buffers rebuilds read other members into.
var scratchPool sync.Pool

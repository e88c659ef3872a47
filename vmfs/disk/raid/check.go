package raid

import (
	"bytes"
	"fmt"
)

// Mismatch is a row of a RAID 5 or 6 array whose parity disagrees with its
// data: a member returned wrong bytes (a bit rot, a stale member, or a
// wrong geometry).
type Mismatch struct {
	Row      int64 // row number
	Off, Len int64 // the row's bytes in the array
	// P and Q say which parity disagrees (with its member slot).
	P, Q             bool
	PMember, QMember int
}

// CheckParity recomputes P (and Q) over the rows that hold array bytes
// [off, off+n) and returns the rows where they differ from what the
// members hold; the Stats counter counts them too. Every member must be
// present and readable there.
func (a *Array) CheckParity(off, n int64) ([]Mismatch, error) {
	return a.checkParity(off, n, a.g.Chunk)
}

// checkParity checks the first width bytes of each chunk of the rows.
func (a *Array) checkParity(off, n, width int64) ([]Mismatch, error) {
	if a.g.Level.parity() == 0 {
		return nil, fmt.Errorf("%w: %s has no parity", ErrGeometry, a.g.Level)
	}
	n = min(n, a.size-off)
	if off < 0 || n <= 0 {
		return nil, nil
	}
	members := len(a.members)
	ch := a.g.Chunk
	rowBytes := ch * int64(members-a.g.Level.parity())
	bufs := make([][]byte, members)
	for i := range bufs {
		bufs[i] = make([]byte, width)
	}
	p, q := make([]byte, width), make([]byte, width)
	var r row
	var out []Mismatch
	for s := off / rowBytes; s*rowBytes < off+n; s++ {
		parityRow(a.g.Level, a.g.Layout, members, s, &r)
		for m := range a.members {
			if err := a.readMember(m, bufs[m], s*ch); err != nil {
				return out, fmt.Errorf("checking parity of row %d: %w", s, err)
			}
		}
		if err := a.computeParity(&r, bufs, p, q); err != nil {
			return out, fmt.Errorf("checking parity of row %d: %w", s, err)
		}
		mm := Mismatch{Row: s, Off: s * rowBytes, Len: rowBytes, PMember: r.p, QMember: r.q}
		mm.P = !bytes.Equal(p, bufs[r.p])
		mm.Q = r.q >= 0 && !bytes.Equal(q, bufs[r.q])
		if mm.P || mm.Q {
			out = append(out, mm)
			a.mismatches.Add(1)
		}
	}
	return out, nil
}

// computeParity sets p (and for RAID 6 q) to the parity of row r's data,
// bufs holding each member's bytes.
func (a *Array) computeParity(r *row, bufs [][]byte, p, q []byte) error {
	coder, order, err := a.coder(r)
	if err != nil {
		return err
	}
	shards := make([][]byte, 0, len(order)+2)
	for _, j := range order {
		shards = append(shards, bufs[r.data[j]])
	}
	return coder.Encode(append(shards, p, q)[:len(order)+a.g.Level.parity()])
}

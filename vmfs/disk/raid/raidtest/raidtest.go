// Package raidtest writes the member images of a RAID array from a source
// image, for tests of package raid. It is written apart from the reader,
// from Linux md's documentation (md(4), and the comments of the kernel's
// raid5.c and lib/raid6 that describe each layout row by row), and works
// in the other direction: for every member chunk it decides what the chunk
// holds, where the reader decides for every array chunk where it lies. The
// GF(2^8) product is computed bit by bit, not from logarithm tables.
//
// Whether both agree with md itself is checked by the tests that build
// arrays with mdadm on loop devices.
package raidtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Geometry names an array as mdadm does: Level is "linear", "raid0",
// "raid1", "raid5", "raid6" or "raid10"; Layout is an mdadm layout name
// for raid5 and raid6, and for raid10 "n2" (or empty), "f2" or "o2".
type Geometry struct {
	Level   string
	Layout  string
	Chunk   int64 // bytes
	Members int
	// Offset is written before the data on every member (left as zeros, or
	// filled by Head); Tail is added after it.
	Offset, Tail int64
}

// Stripe writes g.Members images named m0.img, m1.img, … in dir holding
// size bytes of src, and returns their paths in slot order. Chunks that
// are all zeros are left as holes.
func Stripe(src io.ReaderAt, size int64, g Geometry, dir string) ([]string, error) {
	var paths []string
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for i := range g.Members {
		p := filepath.Join(dir, fmt.Sprintf("m%d.img", i))
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		paths = append(paths, p)
	}
	w := &writer{src: src, size: size, g: g, files: files}
	var err error
	switch g.Level {
	case "linear":
		err = w.linear()
	case "raid1":
		err = w.mirror()
	case "raid0", "raid10":
		err = w.stripes()
	case "raid5", "raid6":
		err = w.parity()
	default:
		err = fmt.Errorf("raidtest: level %q", g.Level)
	}
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	files = nil
	return paths, nil
}

type writer struct {
	src       io.ReaderAt
	size      int64
	g         Geometry
	files     []*os.File
	perMember int64 // data bytes on each member
}

// chunkAt reads the source chunk starting at off (zeros past the end).
func (w *writer) chunkAt(off, n int64) []byte {
	b := make([]byte, n)
	if off < w.size {
		w.src.ReadAt(b[:min(n, w.size-off)], off)
	}
	return b
}

func (w *writer) put(m int, b []byte, off int64) error {
	if allZero(b) {
		return nil
	}
	_, err := w.files[m].WriteAt(b, w.g.Offset+off)
	return err
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

func (w *writer) finish() error {
	for _, f := range w.files {
		if err := f.Truncate(w.g.Offset + w.perMember + w.g.Tail); err != nil {
			return err
		}
	}
	return nil
}

// linear splits the source into equal parts, one per member.
func (w *writer) linear() error {
	n := int64(w.g.Members)
	w.perMember = (w.size + n - 1) / n
	w.perMember += (-w.perMember) & 511
	for m := range w.g.Members {
		for off := int64(0); off < w.perMember; off += 1 << 20 {
			k := min(1<<20, w.perMember-off)
			if err := w.put(m, w.chunkAt(int64(m)*w.perMember+off, k), off); err != nil {
				return err
			}
		}
	}
	return w.finish()
}

func (w *writer) mirror() error {
	w.perMember = w.size + (-w.size)&511
	for off := int64(0); off < w.perMember; off += 1 << 20 {
		b := w.chunkAt(off, min(1<<20, w.perMember-off))
		for m := range w.g.Members {
			if err := w.put(m, b, off); err != nil {
				return err
			}
		}
	}
	return w.finish()
}

// stripes writes raid0 and raid10. md(4): RAID10 "near" copies of a chunk
// sit at the same offset on adjacent devices; counting the device chunks
// row by row, chunk c's copies are the c·2-th and c·2+1-th.
func (w *writer) stripes() error {
	copies := int64(1)
	if w.g.Level == "raid10" {
		copies = 2
		switch w.g.Layout {
		case "f2":
			return w.far(false)
		case "o2":
			return w.far(true)
		}
	}
	n, ch := int64(w.g.Members), w.g.Chunk
	chunks := (w.size + ch - 1) / ch
	rows := (chunks*copies + n - 1) / n
	w.perMember = rows * ch
	for dev := int64(0); dev < rows*n; dev++ { // device chunk number, row by row
		c := dev / copies
		if err := w.put(int(dev%n), w.chunkAt(c*ch, ch), dev/n*ch); err != nil {
			return err
		}
	}
	return w.finish()
}

// far writes raid10 "far 2" and "offset 2" (md(4)): far stripes the data
// as RAID 0 over the first half of every device and writes it again over
// the second half, each chunk one device further on, so that its copies
// are never on one device; offset does the same one row at a time, each
// row of chunks followed at once by its copy, one device further on.
func (w *writer) far(offset bool) error {
	n, ch := int64(w.g.Members), w.g.Chunk
	chunks := (w.size + ch - 1) / ch
	rows := (chunks + n - 1) / n
	w.perMember = 2 * rows * ch
	for c := range chunks {
		data := w.chunkAt(c*ch, ch)
		row, dev := c/n, c%n
		first, second := row*ch, (rows+row)*ch
		if offset {
			first, second = 2*row*ch, (2*row+1)*ch
		}
		if err := w.put(int(dev), data, first); err != nil {
			return err
		}
		if err := w.put(int((dev+1)%n), data, second); err != nil {
			return err
		}
	}
	return w.finish()
}

// Roles of the members in one row.
const (
	roleP = -1
	roleQ = -2
)

// roles returns, for row s, what each member holds: a data index (0 is
// the row's first data chunk), roleP or roleQ; and for RAID 6 the
// coefficient exponent of each member in Q.
//
// A layout named with "-6" (raid6 only) is, in the words of md's raid5.h,
// "exactly the same layout for data and parity" as the RAID 5 layout of
// the name without it, "with the Q block always on the last device": P
// rotates and the data fills over the first n-1 members only.
func (w *writer) roles(s int64) (roles, coef []int) {
	n := w.g.Members
	raid6 := w.g.Level == "raid6"
	layout, qLast := strings.CutSuffix(w.g.Layout, "-6")
	span := n // the members P rotates over and the data fills
	if qLast {
		if !raid6 || strings.HasPrefix(layout, "ddf") || layout == "parity-last" {
			panic("raidtest: layout " + w.g.Layout)
		}
		span = n - 1
	}
	r := int(s % int64(span))
	p, q := -1, -1
	fillFrom := 0 // data index 0 goes on the first free member from here, wrapping
	switch layout {
	case "left-asymmetric", "left-symmetric", "ddf-N-continue":
		p = span - 1 - r // parity starts on the last member and moves left
	case "right-asymmetric", "right-symmetric", "ddf-zero-restart":
		p = r // parity starts on the first member and moves right
	case "ddf-N-restart":
		p = n - 1 - int((s+1)%int64(n)) // the first row is D D D P Q
	case "parity-first":
		p = 0
	case "parity-last":
		p = n - 1
		if raid6 {
			p = n - 2
		}
	default:
		panic("raidtest: layout " + w.g.Layout)
	}
	switch {
	case qLast:
		q = n - 1
	case layout == "ddf-N-continue":
		q = (p - 1 + n) % n // Q just before P
	case raid6:
		q = (p + 1) % n // Q just after P; asymmetric layouts wrap it to member 0
	}
	switch layout {
	case "left-symmetric", "right-symmetric":
		fillFrom = (p + 1) % span // data continues right after the parity
		if raid6 && !qLast {
			fillFrom = (q + 1) % n
		}
	case "ddf-N-continue":
		fillFrom = (p + 1) % n
	}
	ddfCoef := w.g.Layout == "ddf-zero-restart" || w.g.Layout == "ddf-N-restart" || w.g.Layout == "ddf-N-continue"
	roles = make([]int, n)
	for i := range roles {
		roles[i] = 999
	}
	roles[p] = roleP
	if q >= 0 {
		roles[q] = roleQ
	}
	d := 0
	for k := range n {
		m := (fillFrom + k) % n
		if roles[m] == 999 {
			roles[m] = d
			d++
		}
	}
	if raid6 {
		coef = make([]int, n)
		slot := 0
		// md takes the data into Q from the member after Q, going round
		// (from member 0 when Q is last), except DDF by member number.
		for k := 1; k <= n; k++ {
			m := (q + k) % n
			if ddfCoef {
				coef[m] = m
				continue
			}
			if roles[m] >= 0 {
				coef[m] = slot
				slot++
			}
		}
	}
	return roles, coef
}

func (w *writer) parity() error {
	n, ch := w.g.Members, w.g.Chunk
	dd := n - 1
	if w.g.Level == "raid6" {
		dd = n - 2
	}
	rowBytes := ch * int64(dd)
	rows := (w.size + rowBytes - 1) / rowBytes
	w.perMember = rows * ch
	for s := range rows {
		roles, coef := w.roles(s)
		chunks := make([][]byte, n)
		pc, qc := make([]byte, ch), make([]byte, ch)
		for m, role := range roles {
			if role >= 0 {
				chunks[m] = w.chunkAt(s*rowBytes+int64(role)*ch, ch)
				var times [256]byte // times[v] = g^coef · v
				if coef != nil {
					g := pow2(coef[m])
					for v := range times {
						times[v] = mul(g, byte(v))
					}
				}
				for i, v := range chunks[m] {
					pc[i] ^= v
					qc[i] ^= times[v]
				}
			}
		}
		for m, role := range roles {
			b := chunks[m]
			switch role {
			case roleP:
				b = pc
			case roleQ:
				b = qc
			}
			if err := w.put(m, b, s*ch); err != nil {
				return err
			}
		}
	}
	return w.finish()
}

// mul multiplies in GF(2^8) modulo x^8+x^4+x^3+x^2+1, shifting and adding.
func mul(a, b byte) byte {
	var r byte
	for b != 0 {
		if b&1 != 0 {
			r ^= a
		}
		hi := a & 0x80
		a <<= 1
		if hi != 0 {
			a ^= 0x1d
		}
		b >>= 1
	}
	return r
}

func pow2(k int) byte {
	r := byte(1)
	for range k {
		r = mul(r, 2)
	}
	return r
}

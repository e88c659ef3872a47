package remote

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"sort"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// NBD block status (the base:allocation meta context) tells where an export
// reads as zeros: an image with holes, or a thin LUN. Those ranges are then
// never transferred, as a local scan never reads a sparse file's holes from
// the disk.

const (
	nbdStateZero = 1 << 1 // base:allocation: the extent reads as zeros

	// nbdMaxStatusChunk bounds one block-status reply chunk (16 Ki extents
	// of 8 bytes).
	nbdMaxStatusChunk = 4 + 8<<14

	// statusWindow is the span one block-status query asks about; the
	// answers of statusWindows windows are kept.
	statusWindow  = 1 << 30
	statusWindows = 16
)

// readStatusChunk reads an NBD_REPLY_TYPE_BLOCK_STATUS chunk into r.
func readStatusChunk(br *bufio.Reader, r *nbdReq, length uint32) error {
	if !r.status || length < 12 || length%8 != 4 || length > nbdMaxStatusChunk {
		return protoErr("block status chunk of %d bytes for a %s", length, r.kind())
	}
	b := make([]byte, length)
	if _, err := io.ReadFull(br, b); err != nil {
		return err
	}
	if ctx := binary.BigEndian.Uint32(b); ctx != r.statusCtx {
		return nil // a context this client did not ask for
	}
	if r.statusEnd != 0 {
		return protoErr("two block status chunks for one context")
	}
	pos, end := r.off, r.off+int64(r.statusLen)
	for b = b[4:]; len(b) >= 8 && pos < end; b = b[8:] {
		n := int64(binary.BigEndian.Uint32(b))
		if n == 0 {
			return protoErr("block status extent of 0 bytes at offset %d", pos)
		}
		n = min(n, end-pos) // the last extent may reach past the request
		if binary.BigEndian.Uint32(b[4:])&nbdStateZero != 0 {
			r.zeros = r.zeros.Add(allocmap.Range{Off: pos, Len: n})
		}
		pos += n
	}
	r.statusEnd = pos
	return nil
}

func (r *nbdReq) kind() string {
	if r.status {
		return "block status request"
	}
	return "read"
}

// zeroRanges asks where [off, off+n) reads as zeros. The server may answer
// for less than the whole range: end is how far the answer reaches.
func (nc *nbdConn) zeroRanges(off int64, n uint32) (zeros allocmap.Map, end int64, err error) {
	r, err := nc.send(&nbdReq{off: off, status: true, statusLen: n, statusCtx: nc.ex.allocCtx})
	if err != nil {
		return nil, 0, err
	}
	<-r.done
	if r.err != nil {
		return nil, 0, r.err
	}
	if r.statusEnd <= off {
		return nil, 0, protoErr("block status of [%d,+%d) answered with no extent", off, n)
	}
	return r.zeros, r.statusEnd, nil
}

// zeroMaps keeps, per window of the export, the ranges that read as zeros.
type zeroMaps struct {
	mu      sync.Mutex
	windows map[int64]allocmap.Map
	order   []int64 // windows in the order they were learnt, for eviction
	off     bool    // the server refused a query: stop asking
}

// covers says whether [off, off+n) is known to read as zeros, asking the
// server (through c) about windows not known yet. Any failure only means
// "not known": the read then goes to the server as usual; lost says the
// link dropped while asking.
func (z *zeroMaps) covers(c *nbdConn, size, off, n int64) (zero, lost bool) {
	if !c.ex.hasAlloc || n <= 0 {
		return false, false
	}
	for w := off / statusWindow; w <= (off+n-1)/statusWindow; w++ {
		from, to := max(off, w*statusWindow), min(off+n, (w+1)*statusWindow)
		m, lost := z.window(c, size, w)
		if !covered(m, from, to) {
			return false, lost
		}
	}
	return true, false
}

func covered(m allocmap.Map, from, to int64) bool {
	i := sort.Search(len(m), func(i int) bool { return m[i].End() > from })
	return i < len(m) && m[i].Off <= from && m[i].End() >= to
}

// window returns the zero ranges of window w, querying them when unknown;
// lost says the link dropped while asking (nothing is remembered then).
func (z *zeroMaps) window(c *nbdConn, size, w int64) (zeros allocmap.Map, lost bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if m, ok := z.windows[w]; ok || z.off {
		return m, false
	}
	var m allocmap.Map
	for pos, end := w*statusWindow, min((w+1)*statusWindow, size); pos < end; {
		zeros, reached, err := c.zeroRanges(pos, uint32(end-pos))
		if errors.Is(err, errLinkLost) {
			// Not known for now; the read that follows re-establishes the
			// link and the next one asks again.
			return nil, true
		}
		if err != nil {
			z.off = true // refused or garbled: do without
			break        // the rest of the window counts as data
		}
		for _, r := range zeros {
			m = m.Add(r)
		}
		pos = reached
	}
	if z.windows == nil {
		z.windows = map[int64]allocmap.Map{}
	}
	if len(z.order) == statusWindows {
		delete(z.windows, z.order[0])
		z.order = z.order[1:]
	}
	z.windows[w], z.order = m, append(z.order, w)
	return m, false
}

package ext

import "encoding/binary"

// run maps n blocks of a file from logical block lblk to physical block
// pblk; an unwritten (preallocated) run reads as zeros.
type run struct {
	lblk, pblk, n int64
	unwritten     bool
}

// layout is where a file's bytes lie: runs of blocks (what the map does
// not cover is a hole), or the bytes themselves for inline data.
type layout struct {
	runs   []run
	inline []byte // inline data, nil otherwise
}

// Extent tree nodes: a 12-byte header, then 12-byte entries.
//
//	header: 0x0 eh_magic u16 (0xF30A)  0x2 eh_entries u16  0x4 eh_max u16
//	        0x6 eh_depth u16 (0: the entries are leaves)
//	leaf:   0x0 ee_block u32  0x4 ee_len u16 (> 32768: unwritten, minus
//	        32768)  0x6 ee_start_hi u16  0x8 ee_start_lo u32
//	index:  0x0 ei_block u32  0x4 ei_leaf_lo u32  0x8 ei_leaf_hi u16
const (
	extentMagic    = 0xF30A
	maxExtentDepth = 5 // what the kernel allows
)

// mapper builds the layout of one inode, bounding the work by the file
// system: no more tree nodes, runs or mapped blocks than it has blocks,
// runs in order without overlap, nothing past the file's last block.
type mapper struct {
	fsys   *FS
	in     *inode
	nblk   int64 // blocks the file's size covers
	runs   []run
	nodes  int64
	next   int64 // logical block the next run must start at or after
	mapped int64 // blocks the runs map
}

// layoutOf maps inode in.
func (f *FS) layoutOf(in *inode) (*layout, error) {
	bs := f.sb.blockSize
	m := &mapper{fsys: f, in: in, nblk: (in.size + bs - 1) / bs}
	switch {
	case in.flags&flagInlineData != 0:
		data := append(append([]byte(nil), in.block[:]...), in.inlineXattr()...)
		if int64(len(data)) > in.size {
			data = data[:in.size]
		}
		return &layout{inline: data}, nil
	case in.isSymlink() && in.size < 60 && in.flags&flagExtents == 0:
		return &layout{inline: append([]byte(nil), in.block[:in.size]...)}, nil
	case in.flags&flagExtents != 0:
		if err := m.extentNode(in.block[:], in.off+0x28, -1); err != nil {
			return nil, err
		}
	default:
		if in.mode&sIFMT == sIFCHR || in.mode&sIFMT == sIFBLK || in.mode&sIFMT == sIFIFO || in.mode&sIFMT == sIFSOCK {
			return &layout{}, nil // i_block holds a device number, not blocks
		}
		if err := m.blockMap(); err != nil {
			return nil, err
		}
	}
	return &layout{runs: m.runs}, nil
}

func (m *mapper) errf(off int64, format string, a ...any) error {
	return corrupt(inodeName(m.in.num), off, format, a...)
}

// add appends a run, merging it with the last one when they continue
// each other, after checking it lies inside the file system.
func (m *mapper) add(r run, at int64) error {
	if r.lblk < m.next {
		return m.errf(at, "block %d mapped twice or out of order", r.lblk)
	}
	if r.lblk >= m.nblk || r.n <= 0 {
		return nil
	}
	r.n = min(r.n, m.nblk-r.lblk)
	if r.pblk <= 0 || r.pblk+r.n > m.fsys.sb.blocks {
		return m.errf(at, "blocks %d+%d outside the file system (%d blocks)", r.pblk, r.n, m.fsys.sb.blocks)
	}
	m.next = r.lblk + r.n
	if m.mapped += r.n; m.mapped > m.fsys.sb.blocks {
		return m.errf(at, "maps more blocks than the file system has")
	}
	if k := len(m.runs); k > 0 {
		l := &m.runs[k-1]
		if l.lblk+l.n == r.lblk && l.pblk+l.n == r.pblk && l.unwritten == r.unwritten {
			l.n += r.n
			return nil
		}
	}
	if int64(len(m.runs)) >= m.fsys.sb.blocks {
		return m.errf(at, "more runs than the file system has blocks")
	}
	m.runs = append(m.runs, r)
	return nil
}

// extentNode walks the extent tree node b (read at byte off), whose depth
// must be want (-1 at the root).
func (m *mapper) extentNode(b []byte, off int64, want int) error {
	le := binary.LittleEndian
	if le.Uint16(b[0:]) != extentMagic {
		return m.errf(off, "extent node magic %#04x", le.Uint16(b[0:]))
	}
	entries, depth := int(le.Uint16(b[2:])), int(le.Uint16(b[6:]))
	switch {
	case depth > maxExtentDepth:
		return m.errf(off, "extent tree depth %d", depth)
	case want >= 0 && depth != want:
		return m.errf(off, "extent node of depth %d below a node of depth %d", depth, want+1)
	case 12+12*entries > len(b):
		return m.errf(off, "%d extent entries in a %d-byte node", entries, len(b))
	}
	m.nodes++
	if m.nodes > m.fsys.sb.blocks {
		return m.errf(off, "more extent nodes than the file system has blocks")
	}
	bs := m.fsys.sb.blockSize
	for i := 0; i < entries; i++ {
		e := b[12+12*i:]
		at := off + 12 + 12*int64(i)
		lblk := int64(le.Uint32(e[0:]))
		if depth == 0 {
			n := int64(le.Uint16(e[4:]))
			unwritten := n > 32768
			if unwritten {
				n -= 32768
			}
			pblk := int64(le.Uint16(e[6:]))<<32 | int64(le.Uint32(e[8:]))
			if err := m.add(run{lblk: lblk, pblk: pblk, n: n, unwritten: unwritten}, at); err != nil {
				return err
			}
			continue
		}
		if lblk >= m.nblk {
			break // the rest maps nothing of the file's size
		}
		child := int64(le.Uint16(e[8:]))<<32 | int64(le.Uint32(e[4:]))
		if child <= 0 || child >= m.fsys.sb.blocks {
			return m.errf(at, "extent index to block %d (%d blocks)", child, m.fsys.sb.blocks)
		}
		nb := make([]byte, bs)
		if err := m.fsys.readMeta(nb, child*bs); err != nil {
			return err
		}
		if err := m.extentNode(nb, child*bs, depth-1); err != nil {
			return err
		}
	}
	return nil
}

// blockMap walks an ext2/3 block map: 12 direct pointers, then one
// single, one double and one triple indirect block; a zero pointer is a
// hole.
func (m *mapper) blockMap() error {
	le := binary.LittleEndian
	at := m.in.off + 0x28
	for i := int64(0); i < 12; i++ {
		if p := int64(le.Uint32(m.in.block[4*i:])); p != 0 {
			if err := m.add(run{lblk: i, pblk: p, n: 1}, at+4*i); err != nil {
				return err
			}
		}
	}
	per := m.fsys.sb.blockSize / 4
	lblk, span := int64(12), per
	for level := 1; level <= 3; level++ {
		if lblk >= m.nblk {
			break
		}
		if p := int64(le.Uint32(m.in.block[4*(11+level):])); p != 0 {
			if err := m.indirect(p, level, lblk, at+4*int64(11+level)); err != nil {
				return err
			}
		}
		lblk += span
		span *= per
	}
	return nil
}

// indirect walks the indirect block p of the given level (1: it points to
// data blocks) that maps the file from logical block lblk; at is where the
// pointer to it lies.
func (m *mapper) indirect(p int64, level int, lblk, at int64) error {
	bs := m.fsys.sb.blockSize
	if p >= m.fsys.sb.blocks {
		return m.errf(at, "indirect block %d outside the file system (%d blocks)", p, m.fsys.sb.blocks)
	}
	m.nodes++
	if m.nodes > m.fsys.sb.blocks {
		return m.errf(at, "more indirect blocks than the file system has")
	}
	b := make([]byte, bs)
	if err := m.fsys.readMeta(b, p*bs); err != nil {
		return err
	}
	per := bs / 4
	span := int64(1)
	for i := 1; i < level; i++ {
		span *= per
	}
	le := binary.LittleEndian
	for i := int64(0); i < per; i++ {
		l := lblk + i*span
		if l >= m.nblk {
			break
		}
		q := int64(le.Uint32(b[4*i:]))
		if q == 0 {
			continue
		}
		var err error
		if level == 1 {
			err = m.add(run{lblk: l, pblk: q, n: 1}, p*bs+4*i)
		} else {
			err = m.indirect(q, level-1, l, p*bs+4*i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

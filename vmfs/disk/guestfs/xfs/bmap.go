package xfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// extent maps count blocks of a file, from logical block off, to the
// blocks at byte phys of the reader (xfs_bmbt_rec, 128 bits big-endian:
// 1 unwritten flag, 54 logical offset, 52 start block, 21 count).
type extent struct {
	off       uint64 // logical block
	count     uint64
	phys      int64 // byte offset of the first block
	unwritten bool  // preallocated and never written: reads as zeros
}

func (e extent) end() uint64 { return e.off + e.count }

const (
	maxBtreeLevels = 10 // the bmbt of a 2^54-block file with 2^48 extents needs fewer
	bmbtRecSize    = 16
)

// decodeExtent decodes one extent record of inode ino, lying at byte off.
func (x *FS) decodeExtent(rec []byte, what string, off int64) (extent, error) {
	l0, l1 := binary.BigEndian.Uint64(rec), binary.BigEndian.Uint64(rec[8:])
	e := extent{
		unwritten: l0>>63 != 0,
		off:       (l0 &^ (1 << 63)) >> 9,
		count:     l1 & (1<<21 - 1),
	}
	fsb := (l0&0x1ff)<<43 | l1>>21
	agb := fsb & (1<<x.sb.agBlkLog - 1)
	phys, ok := x.sb.fsbOffset(fsb)
	switch {
	case e.count == 0:
		return e, corrupt(what, off, "empty extent at file block %d", e.off)
	case !ok || agb+e.count > uint64(x.sb.agBlocks) || uint64(phys>>x.sb.blockLog)+e.count > x.sb.dblocks:
		return e, corrupt(what, off, "extent of %d blocks at block %#x lies outside the file system", e.count, fsb)
	}
	e.phys = phys
	return e, nil
}

// extentMap reads the data fork mapping of a file in extents or btree
// format: the extents sorted by logical block, checked not to overlap and
// to lie inside the file system. Memory is bounded by the records on disk:
// each btree block is read once, and no more records are read than the
// inode claims.
func (x *FS) extentMap(in *inode) ([]extent, error) {
	what := in.structName() + " data fork"
	var out []extent
	add := func(rec []byte, off int64) error {
		if uint64(len(out)) >= in.nextents {
			return corrupt(what, off, "more extents than the %d the inode counts", in.nextents)
		}
		e, err := x.decodeExtent(rec, what, off)
		if err != nil {
			return err
		}
		if n := len(out); n > 0 && e.off < out[n-1].end() {
			return corrupt(what, off, "extent at file block %d overlaps or precedes the one before", e.off)
		}
		out = append(out, e)
		return nil
	}
	forkOff := in.off + int64(len(in.fork)) // only for messages: the fork's place
	switch in.format {
	case fmtExtents:
		if in.nextents > uint64(len(in.fork)/bmbtRecSize) {
			return nil, corrupt(what, in.off, "%d extents in a %d-byte fork", in.nextents, len(in.fork))
		}
		for i := 0; uint64(i) < in.nextents; i++ {
			if err := add(in.fork[i*bmbtRecSize:], in.off); err != nil {
				return nil, err
			}
		}
	case fmtBtree:
		if len(in.fork) < 4 {
			return nil, corrupt(what, in.off, "btree root in a %d-byte fork", len(in.fork))
		}
		level := int(binary.BigEndian.Uint16(in.fork))
		n := int(binary.BigEndian.Uint16(in.fork[2:]))
		maxrecs := (len(in.fork) - 4) / 16
		if level < 1 || level > maxBtreeLevels || n < 1 || n > maxrecs {
			return nil, corrupt(what, in.off, "btree root of level %d with %d of %d records", level, n, maxrecs)
		}
		w := &bmbtWalk{x: x, ino: in.ino, what: what, add: add, seen: map[uint64]bool{}}
		for i := 0; i < n; i++ {
			ptr := binary.BigEndian.Uint64(in.fork[4+maxrecs*8+i*8:])
			if err := w.walk(ptr, level-1); err != nil {
				return nil, err
			}
		}
	default:
		return nil, corrupt(what, forkOff, "format %d holds no extents", in.format)
	}
	if uint64(len(out)) != in.nextents {
		return nil, corrupt(what, in.off, "%d extents found, the inode counts %d", len(out), in.nextents)
	}
	return out, nil
}

// bmbtWalk reads the blocks of an extent btree (bmbt) depth first.
type bmbtWalk struct {
	x    *FS
	ino  uint64
	what string
	add  func(rec []byte, off int64) error
	seen map[uint64]bool
	buf  []byte
}

// walk reads the btree block fsb, expected at level, and those below it.
func (w *bmbtWalk) walk(fsb uint64, level int) error {
	x := w.x
	what := fmt.Sprintf("XFS extent btree block %#x of inode %d", fsb, w.ino)
	off, ok := x.sb.fsbOffset(fsb)
	if !ok {
		return corrupt(w.what, -1, "btree pointer %#x outside the file system", fsb)
	}
	if w.seen[fsb] {
		return corrupt(what, off, "block reached twice: the btree loops")
	}
	w.seen[fsb] = true
	b := make([]byte, x.sb.blockSize)
	if n, err := x.r.ReadAt(b, off); n < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading %s at %#x: %w", what, off, err)
	}
	be := binary.BigEndian
	hdr := 24
	if x.sb.version == 5 {
		hdr = 72
		switch {
		case string(b[:4]) != "BMA3":
			return corrupt(what, off, "no BMA3 magic")
		case !crcOK(b, 64):
			return corrupt(what, off, "bad checksum")
		case be.Uint64(b[24:]) != uint64(off>>9):
			return corrupt(what, off, "holds block %#x", be.Uint64(b[24:])<<9)
		case be.Uint64(b[56:]) != w.ino:
			return corrupt(what, off, "owned by inode %d", be.Uint64(b[56:]))
		}
	} else if string(b[:4]) != "BMAP" {
		return corrupt(what, off, "no BMAP magic")
	}
	got, n := int(be.Uint16(b[4:])), int(be.Uint16(b[6:]))
	maxrecs := (len(b) - hdr) / 16
	if got != level || n < 1 || n > maxrecs {
		return corrupt(what, off, "level %d with %d of %d records, want level %d", got, n, maxrecs, level)
	}
	if level == 0 {
		for i := 0; i < n; i++ {
			p := hdr + i*bmbtRecSize
			if err := w.add(b[p:p+bmbtRecSize], off+int64(p)); err != nil {
				return err
			}
		}
		return nil
	}
	ptrs := b[hdr+maxrecs*8:]
	for i := 0; i < n; i++ {
		if err := w.walk(be.Uint64(ptrs[i*8:]), level-1); err != nil {
			return err
		}
	}
	return nil
}

// findExtent returns the index of the first extent that ends after
// logical block lblk.
func findExtent(m []extent, lblk uint64) int {
	return sort.Search(len(m), func(i int) bool { return m[i].end() > lblk })
}

package ntfs

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// indexEntry is one entry of a directory's $I30 index: the file's record
// reference and a copy of one of its $FILE_NAME attributes.
type indexEntry struct {
	id  int64
	seq uint16
	fn  fileName
}

// readIndex lists the entries of directory rec's $I30 index: those of
// $INDEX_ROOT and of every index block of $INDEX_ALLOCATION that its
// $BITMAP marks in use. Blocks are read in order rather than by walking
// the B-tree, so that a damaged tree cannot make the walk loop.
func (v *FS) readIndex(rec *record) ([]indexEntry, error) {
	roots := rec.pieces(attrIndexRoot, "$I30")
	if len(roots) != 1 || !roots[0].resident {
		return nil, corrupt(rec.what(), rec.off, "directory without a resident $I30 index root")
	}
	// $INDEX_ROOT: 0x00 indexed attribute type, 0x08 index block size,
	// 0x10 node header (0x00 entries offset, 0x04 end of the entries,
	// both from the node header).
	root := roots[0].content
	if len(root) < 0x20 {
		return nil, corrupt(rec.what(), rec.off, "$I30 index root of %d bytes", len(root))
	}
	var out []indexEntry
	out, err := appendEntries(out, root[0x10:], rec.what()+" $I30 root", rec.off)
	if err != nil {
		return nil, err
	}
	alloc := rec.pieces(attrIndexAllocation, "$I30")
	if len(alloc) == 0 {
		return out, nil
	}
	blockSize := int64(binary.LittleEndian.Uint32(root[0x08:]))
	if blockSize < 512 || blockSize > 64<<10 || bits.OnesCount64(uint64(blockSize)) != 1 {
		return nil, corrupt(rec.what(), rec.off, "$I30 index block size %d", blockSize)
	}
	s, err := v.openStream(alloc, rec.what()+" $I30 allocation")
	if err != nil {
		return nil, err
	}
	var inUse []byte
	if bm := rec.pieces(attrBitmap, "$I30"); len(bm) > 0 {
		bs, err := v.openStream(bm, rec.what()+" $I30 bitmap")
		if err != nil {
			return nil, err
		}
		inUse = make([]byte, min(bs.size, (s.size/blockSize+7)/8))
		if _, err := bs.ReadAt(inUse, 0); err != nil && len(inUse) > 0 {
			return nil, err
		}
	}
	block := make([]byte, blockSize)
	for i := int64(0); i < s.size/blockSize; i++ {
		if inUse != nil && (i/8 >= int64(len(inUse)) || inUse[i/8]&(1<<(i%8)) == 0) {
			continue
		}
		what := fmt.Sprintf("%s $I30 block %d", rec.what(), i)
		if _, err := s.ReadAt(block, i*blockSize); err != nil {
			return nil, err
		}
		off := blockOffset(s, i*blockSize)
		if string(block[:4]) != "INDX" {
			return nil, corrupt(what, off, "no INDX signature")
		}
		if err := fixup(block, what, off); err != nil {
			return nil, err
		}
		// INDX header: 0x18 node header, as in $INDEX_ROOT.
		if out, err = appendEntries(out, block[0x18:], what, off); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// blockOffset is the byte offset in the reader of byte pos of s, for
// errors; -1 when sparse.
func blockOffset(s *stream, pos int64) int64 {
	if s.resident != nil {
		return -1
	}
	i := s.find(pos / s.cs)
	if i == len(s.ext) || s.ext[i].lcn < 0 {
		return -1
	}
	return s.ext[i].lcn*s.cs + pos - s.ext[i].vcn*s.cs
}

// appendEntries decodes the entries of an index node: a header (0x00
// offset of the first entry, 0x04 end of the entries) and entries of 0x00
// file reference, 0x08 entry length, 0x0A key length, 0x0C flags (1: a
// child node follows, 2: the last entry, without key), 0x10 key.
func appendEntries(out []indexEntry, node []byte, what string, off int64) ([]indexEntry, error) {
	if len(node) < 16 {
		return nil, corrupt(what, off, "index node of %d bytes", len(node))
	}
	start := int(binary.LittleEndian.Uint32(node[0:]))
	end := int(binary.LittleEndian.Uint32(node[4:]))
	if start < 16 || start > end || end > len(node) {
		return nil, corrupt(what, off, "index entries at %d-%d of a node of %d bytes", start, end, len(node))
	}
	for i := start; i+16 <= end; {
		e := node[i:end]
		length := int(binary.LittleEndian.Uint16(e[8:]))
		keyLen := int(binary.LittleEndian.Uint16(e[10:]))
		flags := binary.LittleEndian.Uint32(e[12:])
		if flags&2 != 0 {
			break
		}
		if length < 16 || length > len(e) || 16+keyLen > length {
			return nil, corrupt(what, off, "index entry at %d of %d bytes, key of %d", i, length, keyLen)
		}
		if fn, ok := decodeFileName(e[16 : 16+keyLen]); ok {
			ref := binary.LittleEndian.Uint64(e)
			out = append(out, indexEntry{id: int64(ref & (1<<48 - 1)), seq: uint16(ref >> 48), fn: fn})
		}
		i += length
	}
	return out, nil
}

// fixup applies the update sequence array of a multi-sector structure
// (INDX block): the last two bytes of every 512-byte stride hold the
// update sequence number, whose real bytes the array keeps (header: 0x04
// array offset, 0x06 count including the number itself).
func fixup(b []byte, what string, off int64) error {
	uo := int(binary.LittleEndian.Uint16(b[4:]))
	uc := int(binary.LittleEndian.Uint16(b[6:]))
	if uc < 2 || uo+2*uc > len(b) || (uc-1)*512 > len(b) {
		return corrupt(what, off, "update sequence array of %d at %d in %d bytes", uc, uo, len(b))
	}
	for i := 1; i < uc; i++ {
		p := i*512 - 2
		if b[p] != b[uo] || b[p+1] != b[uo+1] {
			if off >= 0 {
				off += int64(p)
			}
			return corrupt(what, off, "update sequence mismatch in sector %d (torn write)", i)
		}
		b[p], b[p+1] = b[uo+2*i], b[uo+2*i+1]
	}
	return nil
}

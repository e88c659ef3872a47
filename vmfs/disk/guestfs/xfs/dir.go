package xfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// dirent is one name of a directory.
type dirent struct {
	name  string
	ino   uint64
	ftype uint8 // XFS_DIR3_FT_*, 0 when the file system records none
}

// File types of directory entries (ftype feature).
const (
	ftUnknown = 0
	ftReg     = 1
	ftDir     = 2
	ftChr     = 3
	ftBlk     = 4
	ftFifo    = 5
	ftSock    = 6
	ftSymlink = 7
	ftMax     = 8
)

// dirLeafOffset is where a directory's leaf and free-index blocks start in
// its logical byte range (XFS_DIR2_LEAF_OFFSET): its names all lie in the
// data blocks below.
const dirLeafOffset = 32 << 30

// readDir lists directory in, without "." and "..", in on-disk order, and
// returns the inode of its parent ("..").
func (x *FS) readDir(in *inode) ([]dirent, uint64, error) {
	var ents []dirent
	var err error
	switch in.format {
	case fmtLocal:
		ents, err = x.shortformDir(in)
	case fmtExtents, fmtBtree:
		ents, err = x.blockDir(in)
	default:
		return nil, 0, corrupt(in.structName(), in.off, "directory in data fork format %d", in.format)
	}
	if err != nil {
		return nil, 0, err
	}
	parent := uint64(0)
	if n := len(ents); n > 0 && ents[n-1].name == ".." {
		parent, ents = ents[n-1].ino, ents[:n-1]
	}
	return ents, parent, nil
}

// shortformDir decodes a directory kept inside its inode (xfs_dir2_sf):
//
//	0 count u8  1 i8count u8  2 parent (4 bytes, 8 when i8count)
//	then each entry: namelen u8, offset u16, name, [ftype u8], inumber (4 or 8)
func (x *FS) shortformDir(in *inode) ([]dirent, error) {
	what := in.structName() + " short-form directory"
	b := in.fork
	if in.size < int64(len(b)) {
		b = b[:in.size]
	}
	if len(b) < 6 {
		return nil, corrupt(what, in.off, "%d bytes", len(b))
	}
	count, i8 := int(b[0]), b[1] != 0
	inoLen := 4
	if i8 {
		inoLen = 8
	}
	p := 2 + inoLen
	out := make([]dirent, 0, count)
	for i := 0; i < count; i++ {
		if p+3 > len(b) {
			return nil, corrupt(what, in.off, "entry %d of %d past the end", i, count)
		}
		nl := int(b[p])
		e := p + 3 + nl
		var ft uint8
		if x.sb.ftype {
			if e >= len(b) {
				return nil, corrupt(what, in.off, "entry %d of %d past the end", i, count)
			}
			ft = b[e]
			e++
		}
		if nl == 0 || e+inoLen > len(b) {
			return nil, corrupt(what, in.off, "entry %d: name of %d bytes", i, nl)
		}
		var ino uint64
		if i8 {
			ino = binary.BigEndian.Uint64(b[e:])
		} else {
			ino = uint64(binary.BigEndian.Uint32(b[e:]))
		}
		if name := b[p+3 : p+3+nl]; !isDots(name) {
			out = append(out, dirent{name: listedName(name), ino: ino, ftype: ft})
		}
		p = e + inoLen
	}
	parent := uint64(binary.BigEndian.Uint32(b[2:]))
	if i8 {
		parent = binary.BigEndian.Uint64(b[2:])
	}
	return append(out, dirent{name: "..", ino: parent}), nil
}

// blockDir reads the data blocks of a block, leaf or node directory: the
// directory blocks in its logical range below dirLeafOffset.
func (x *FS) blockDir(in *inode) ([]dirent, error) {
	ext, err := x.extentMap(in)
	if err != nil {
		return nil, err
	}
	if err := physicalOverlap(ext, x.sb.blockSize, in); err != nil {
		return nil, err
	}
	dirBlocks := uint64(1) << x.sb.dirBlkLog
	leaf := uint64(dirLeafOffset) >> x.sb.blockLog
	buf := make([]byte, x.sb.blockSize<<x.sb.dirBlkLog)
	var out []dirent
	parent := dirent{name: ".."}
	next := uint64(0) // the first logical block not yet read
	for _, e := range ext {
		for lb := max(e.off, next) &^ (dirBlocks - 1); lb < e.end() && lb < leaf; lb += dirBlocks {
			if lb < next {
				continue
			}
			next = lb + dirBlocks
			first, err := x.readDirBlock(ext, lb, buf, in)
			if err != nil {
				return nil, err
			}
			if out, err = x.dataBlockEntries(buf, first, in, out, &parent); err != nil {
				return nil, err
			}
		}
	}
	return append(out, parent), nil
}

// physicalOverlap refuses a directory whose extents share blocks: a
// hostile map would otherwise list the same block again and again.
func physicalOverlap(ext []extent, bs int64, in *inode) error {
	s := append([]extent(nil), ext...)
	sort.Slice(s, func(i, j int) bool { return s[i].phys < s[j].phys })
	for i := 1; i < len(s); i++ {
		if s[i].phys < s[i-1].phys+int64(s[i-1].count)*bs {
			return corrupt(in.structName()+" data fork", in.off, "extents share the block at %#x", s[i].phys)
		}
	}
	return nil
}

// readDirBlock reads the directory block at logical block lb into buf,
// block by block (its blocks may lie in several extents), and returns
// the byte offset of its first block.
func (x *FS) readDirBlock(ext []extent, lb uint64, buf []byte, in *inode) (int64, error) {
	bs := x.sb.blockSize
	first := int64(-1)
	for i := uint64(0); i < uint64(len(buf))/uint64(bs); i++ {
		j := findExtent(ext, lb+i)
		if j == len(ext) || ext[j].off > lb+i || ext[j].unwritten {
			return 0, corrupt(in.structName()+" directory", in.off, "directory block at file block %d is not wholly mapped", lb)
		}
		off := ext[j].phys + int64(lb+i-ext[j].off)*bs
		if first < 0 {
			first = off
		}
		if n, err := x.r.ReadAt(buf[int64(i)*bs:int64(i+1)*bs], off); n < int(bs) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("reading directory block of XFS inode %d at %#x: %w", in.ino, off, err)
		}
	}
	return first, nil
}

// dataBlockEntries appends the names of one directory data block, of
// block format (XD2B, XDB3: the hash leaf and a tail at its end) or of a
// leaf or node directory (XD2D, XDD3). Entries (xfs_dir2_data_entry):
// inumber u64, namelen u8, name, [ftype u8], padding to 8 bytes, tag u16;
// free space: 0xffff u16, length u16, ..., tag u16.
func (x *FS) dataBlockEntries(b []byte, off int64, in *inode, out []dirent, parent *dirent) ([]dirent, error) {
	be := binary.BigEndian
	what := fmt.Sprintf("XFS directory block of inode %d", in.ino)
	magic := string(b[:4])
	hdr, end := 16, len(b)
	if x.sb.version == 5 {
		hdr = 64
		switch {
		case magic != "XDB3" && magic != "XDD3":
			return out, corrupt(what, off, "no XDB3 or XDD3 magic")
		case !crcOK(b, 4):
			return out, corrupt(what, off, "bad checksum")
		case be.Uint64(b[8:]) != uint64(off>>9):
			return out, corrupt(what, off, "holds block %#x", be.Uint64(b[8:])<<9)
		case be.Uint64(b[40:]) != in.ino:
			return out, corrupt(what, off, "owned by inode %d", be.Uint64(b[40:]))
		}
	} else if magic != "XD2B" && magic != "XD2D" {
		return out, corrupt(what, off, "no XD2B or XD2D magic")
	}
	if magic == "XD2B" || magic == "XDB3" {
		count := int64(be.Uint32(b[len(b)-8:]))
		if count > int64(len(b)-8-hdr)/8 {
			return out, corrupt(what, off, "%d hash entries in its leaf", count)
		}
		end = len(b) - 8 - int(count)*8
	}
	for p := hdr; p < end; {
		if be.Uint16(b[p:]) == 0xffff {
			if p+4 > end {
				return out, corrupt(what, off+int64(p), "free space past the end of the entries")
			}
			n := int(be.Uint16(b[p+2:]))
			if n < 8 || n%8 != 0 || p+n > end {
				return out, corrupt(what, off+int64(p), "free space of %d bytes", n)
			}
			p += n
			continue
		}
		if p+11 > end {
			return out, corrupt(what, off+int64(p), "entry past the end of the entries")
		}
		nl := int(b[p+8])
		size := 8 + 1 + nl + 2
		ft := uint8(0)
		if x.sb.ftype {
			size++
		}
		size = (size + 7) &^ 7
		if nl == 0 || p+size > end {
			return out, corrupt(what, off+int64(p), "entry of a %d-byte name", nl)
		}
		if x.sb.ftype {
			ft = b[p+9+nl]
		}
		if be.Uint16(b[p+size-2:]) != uint16(p) {
			return out, corrupt(what, off+int64(p), "entry tag %d", be.Uint16(b[p+size-2:]))
		}
		name := b[p+9 : p+9+nl]
		switch {
		case string(name) == "..":
			parent.ino = be.Uint64(b[p:])
		case string(name) == ".":
		default:
			out = append(out, dirent{name: listedName(name), ino: be.Uint64(b[p:]), ftype: ft})
		}
		p += size
	}
	return out, nil
}

func isDots(name []byte) bool { return string(name) == "." || string(name) == ".." }

// listedName is how a name on disk is listed: Linux names are any bytes
// but '/' and NUL, io/fs paths valid UTF-8, so a byte that is not part of
// valid UTF-8, a '/' and a NUL (which only damage puts in a name) are
// written \xNN.
func listedName(name []byte) string {
	if utf8.Valid(name) && !bytes.ContainsAny(name, "/\x00") {
		return string(name)
	}
	var sb strings.Builder
	for len(name) > 0 {
		r, n := utf8.DecodeRune(name)
		if (r == utf8.RuneError && n == 1) || r == '/' || r == 0 {
			fmt.Fprintf(&sb, "\\x%02x", name[0])
		} else {
			sb.Write(name[:n])
		}
		name = name[n:]
	}
	return sb.String()
}

package ext

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// dirent is one directory entry:
//
//	0x0 inode u32  0x4 rec_len u16  0x6 name_len u8
//	0x7 file_type u8 (filetype feature; else the high byte of name_len)
//	0x8 name
//
// rec_len reaches the next entry; a deleted entry is absorbed into the
// rec_len of the one before it, so its bytes survive in the gap after
// that entry's name until overwritten. An htree directory's index blocks
// read as one empty entry (inode 0) spanning the block, and its root as
// "." and ".." with ".." spanning the rest: reading every block of the
// directory as a linear one lists every entry.
type dirent struct {
	name    string
	ino     uint32
	typ     uint8 // file_type: 1 file, 2 dir, 7 symlink, ...
	deleted bool  // found in a gap
}

// parseDirBlock returns the entries of one directory block b (at byte
// off) and, with gaps, the deleted entries that survive in the rec_len
// gaps. A malformed entry ends the block with an error naming it.
func (f *FS) parseDirBlock(b []byte, off int64, owner uint32, gaps bool) ([]dirent, error) {
	le := binary.LittleEndian
	var out []dirent
	for p := 0; p+8 <= len(b); {
		ino := le.Uint32(b[p:])
		recLen := f.recLen(le.Uint16(b[p+4:]))
		nameLen := f.nameLen(b[p+6:])
		if recLen < 8 || p+recLen > len(b) || recLen&3 != 0 || 8+nameLen > recLen {
			return out, corrupt(inodeName(owner)+" directory entry", off+int64(p), "rec_len %d, name_len %d at byte %d of a %d-byte block", recLen, nameLen, p, len(b))
		}
		if ino != 0 && nameLen > 0 {
			out = append(out, dirent{name: displayName(b[p+8 : p+8+nameLen]), ino: ino, typ: f.fileType(b[p+7])})
		}
		if gaps {
			used := 0
			if ino != 0 {
				used = (8 + nameLen + 3) &^ 3
			}
			out = append(out, f.gapEntries(b[p+used:p+recLen])...)
		}
		p += recLen
	}
	return out, nil
}

// gapEntries finds the deleted entries that survive in gap, the slack
// after a live entry's name: each must look like an entry (an inode in
// range, a name that fits, no '/' or NUL) to be believed.
func (f *FS) gapEntries(gap []byte) []dirent {
	le := binary.LittleEndian
	var out []dirent
	for p := 0; p+12 <= len(gap); {
		ino := le.Uint32(gap[p:])
		recLen := f.recLen(le.Uint16(gap[p+4:]))
		nameLen := f.nameLen(gap[p+6:])
		if ino == 0 || ino > f.sb.inodes || nameLen == 0 || p+8+nameLen > len(gap) || recLen < 8+nameLen || recLen&3 != 0 || !validName(gap[p+8:p+8+nameLen]) {
			p += 4
			continue
		}
		out = append(out, dirent{name: displayName(gap[p+8 : p+8+nameLen]), ino: ino, typ: f.fileType(gap[p+7]), deleted: true})
		p += (8 + nameLen + 3) &^ 3
	}
	return out
}

// displayName is a name as the tree shows it: io/fs paths are UTF-8
// without NUL or '/', so a byte that is not (a name in Latin-1, a damaged
// entry) is written \xNN, and so is a backslash that would read as such.
func displayName(n []byte) string {
	clean := utf8.Valid(n)
	for _, c := range n {
		if c == 0 || c == '/' || c == '\\' {
			clean = false
		}
	}
	if clean {
		return string(n)
	}
	var b strings.Builder
	for len(n) > 0 {
		r, size := utf8.DecodeRune(n)
		if (r == utf8.RuneError && size == 1) || r == 0 || r == '/' || (r == '\\' && escapeLike(n)) {
			fmt.Fprintf(&b, "\\x%02x", n[0])
		} else {
			b.Write(n[:size])
		}
		n = n[size:]
	}
	return b.String()
}

// escapeLike reports whether n, starting with a backslash, reads as an
// escape \xNN, which must then be escaped itself to stay unambiguous.
func escapeLike(n []byte) bool {
	return len(n) >= 4 && n[1] == 'x' && isHex(n[2]) && isHex(n[3])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func validName(n []byte) bool {
	if string(n) == "." || string(n) == ".." {
		return false
	}
	for _, c := range n {
		if c == 0 || c == '/' {
			return false
		}
	}
	return true
}

// isDxNode reports whether directory block b is an htree index node: one
// empty entry without a name spanning the block.
func (f *FS) isDxNode(b []byte) bool {
	le := binary.LittleEndian
	return le.Uint32(b) == 0 && f.recLen(le.Uint16(b[4:])) == len(b) && b[6] == 0
}

// recLen decodes rec_len (65536-byte blocks store 65536 as 0 or 65535,
// and the low two bits as bits 16 and 17).
func (f *FS) recLen(v uint16) int {
	if f.sb.blockSize < 65536 {
		return int(v)
	}
	if v == 0 || v == 65535 {
		return 65536
	}
	return int(v&65532) | int(v&3)<<16
}

// nameLen reads name_len: one byte with the filetype feature, else two.
func (f *FS) nameLen(b []byte) int {
	if f.sb.incompat&incompatFiletype != 0 {
		return int(b[0])
	}
	return int(binary.LittleEndian.Uint16(b))
}

func (f *FS) fileType(t uint8) uint8 {
	if f.sb.incompat&incompatFiletype == 0 {
		return 0
	}
	return t
}

// readDirents lists directory in: every block of it (or its inline data),
// with the deleted entries in the gaps when gaps is set. Damaged blocks
// are skipped with a warning, the entries before the damage kept.
func (f *FS) readDirents(in *inode, gaps bool) ([]dirent, error) {
	lay, err := f.layoutOf(in)
	if err != nil {
		return nil, err
	}
	if lay.inline != nil {
		// The parent's inode number, then entries in the rest of i_block
		// and in the system.data attribute.
		if len(lay.inline) < 4 {
			return nil, nil
		}
		out := []dirent{}
		for i, part := range [][]byte{in.block[4:], in.inlineXattr()} {
			ents, err := f.parseDirBlock(part, in.off+0x2C, in.num, gaps)
			if err != nil && i == 0 {
				return nil, err
			}
			out = append(out, ents...)
		}
		return out, nil
	}
	bs := f.sb.blockSize
	buf := make([]byte, bs)
	var out []dirent
	for _, r := range lay.runs {
		if r.unwritten {
			continue
		}
		for i := int64(0); i < r.n; i++ {
			off := (r.pblk + i) * bs
			if err := f.readMeta(buf, off); err != nil {
				return out, err
			}
			// An htree's root and index blocks hold hashes and block
			// numbers in their slack, not deleted entries.
			dx := in.flags&flagIndex != 0 && (r.lblk+i == 0 || f.isDxNode(buf))
			ents, err := f.parseDirBlock(buf, off, in.num, gaps && !dx)
			if err != nil {
				f.warn(err.Error())
			}
			out = append(out, ents...)
		}
	}
	return out, nil
}

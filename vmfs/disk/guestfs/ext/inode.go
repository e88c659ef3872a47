package ext

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// inode is what the reader needs of an on-disk inode (s_inode_size bytes,
// 128 at least) in the inode table of its group:
//
//	0x00 i_mode u16         0x02 i_uid lo u16     0x04 i_size_lo u32
//	0x08 i_atime u32        0x0C i_ctime u32      0x10 i_mtime u32
//	0x14 i_dtime u32 (deleted; for a live inode the orphan list's link)
//	0x18 i_gid lo u16       0x1A i_links_count u16
//	0x1C i_blocks_lo u32    0x20 i_flags u32
//	0x28 i_block [15]u32: block map, extent tree root, fast symlink or
//	     inline data
//	0x68 i_file_acl_lo u32  0x6C i_size_high u32
//	0x74 l_i_blocks_high u16  0x78 l_i_uid_high u16  0x7A l_i_gid_high u16
//	0x80 i_extra_isize u16 (bytes past 128 in use)
//	0x84 i_ctime_extra  0x88 i_mtime_extra  0x8C i_atime_extra u32:
//	     epoch bits (2, seconds 32 and 33) and nanoseconds (30)
//	0x90 i_crtime u32   0x94 i_crtime_extra u32
//	128 + i_extra_isize: in-inode extended attributes (magic 0xEA020000)
type inode struct {
	num    uint32
	off    int64 // byte offset of the inode in the file system
	mode   uint16
	uid    uint32
	gid    uint32
	size   int64
	links  uint16
	dtime  uint32
	flags  uint32
	block  [60]byte
	mtime  time.Time
	atime  time.Time
	ctime  time.Time
	xattrs []byte // the in-inode extended attribute area, after its magic
}

// Inode flags the reader acts on.
const (
	flagIndex      = 0x1000     // htree directory
	flagExtents    = 0x80000    // i_block holds an extent tree
	flagInlineData = 0x10000000 // data in i_block and the system.data xattr
)

// Kinds of file, from i_mode's top four bits.
const (
	sIFMT   = 0xF000
	sIFIFO  = 0x1000
	sIFCHR  = 0x2000
	sIFDIR  = 0x4000
	sIFBLK  = 0x6000
	sIFREG  = 0x8000
	sIFLNK  = 0xA000
	sIFSOCK = 0xC000
)

// inodeName names inode n in errors.
func inodeName(n uint32) string { return fmt.Sprintf("ext4 inode %d", n) }

// decodeInode decodes the inode at byte off, b holding s_inode_size bytes.
func decodeInode(b []byte, num uint32, off int64) (*inode, error) {
	le := binary.LittleEndian
	in := &inode{
		num:   num,
		off:   off,
		mode:  le.Uint16(b[0x00:]),
		uid:   uint32(le.Uint16(b[0x02:])) | uint32(le.Uint16(b[0x78:]))<<16,
		gid:   uint32(le.Uint16(b[0x18:])) | uint32(le.Uint16(b[0x7A:]))<<16,
		size:  int64(le.Uint32(b[0x04:])) | int64(le.Uint32(b[0x6C:]))<<32,
		links: le.Uint16(b[0x1A:]),
		dtime: le.Uint32(b[0x14:]),
		flags: le.Uint32(b[0x20:]),
	}
	copy(in.block[:], b[0x28:0x64])
	if in.size < 0 {
		return nil, corrupt(inodeName(num), off, "size %#x", uint64(in.size))
	}
	extra := int64(0)
	if len(b) > 128 {
		extra = int64(le.Uint16(b[0x80:]))
		if extra&3 != 0 || 128+extra > int64(len(b)) {
			return nil, corrupt(inodeName(num), off, "i_extra_isize %d in a %d-byte inode", extra, len(b))
		}
	}
	stamp := func(at, extraAt int64) time.Time {
		sec := int64(int32(le.Uint32(b[at:])))
		var nsec int64
		if extraAt+4 <= 128+extra {
			x := le.Uint32(b[extraAt:])
			sec += int64(x&3) << 32
			nsec = int64(x >> 2)
			if nsec >= 1e9 {
				nsec = 0
			}
		}
		return time.Unix(sec, nsec)
	}
	in.mtime = stamp(0x10, 0x88)
	in.atime = stamp(0x08, 0x8C)
	in.ctime = stamp(0x0C, 0x84)
	if x := b[128+extra:]; len(x) >= 4 && le.Uint32(x) == 0xEA020000 {
		in.xattrs = x[4:]
	}
	return in, nil
}

func (in *inode) isDir() bool     { return in.mode&sIFMT == sIFDIR }
func (in *inode) isSymlink() bool { return in.mode&sIFMT == sIFLNK }

// deleted reports whether the inode was freed: a deletion time and no
// name left (a live inode on the orphan list has a dtime and links).
func (in *inode) deleted() bool { return in.links == 0 && in.dtime != 0 }

// fileMode is i_mode as io/fs says it.
func (in *inode) fileMode() fs.FileMode { return guestfs.UnixMode(in.mode) }

// inlineXattr returns the value of the in-inode extended attribute
// system.data (index 7, name "data"), where inline data past the 60
// bytes of i_block lies; nil when there is none. Entries:
//
//	0x0 e_name_len u8  0x1 e_name_index u8  0x2 e_value_offs u16
//	0x4 e_value_inum u32  0x8 e_value_size u32  0xC e_hash u32
//	0x10 name, padded to 4 bytes; value offsets count from the first entry
func (in *inode) inlineXattr() []byte {
	le := binary.LittleEndian
	x := in.xattrs
	for p := 0; p+16 <= len(x); {
		nameLen := int(x[p])
		if nameLen == 0 && le.Uint32(x[p:]) == 0 {
			return nil
		}
		end := p + 16 + nameLen
		if end > len(x) {
			return nil
		}
		if x[p+1] == 7 && string(x[p+16:end]) == "data" && le.Uint32(x[p+4:]) == 0 {
			voff, vlen := int(le.Uint16(x[p+2:])), int(le.Uint32(x[p+8:]))
			if voff+vlen > len(x) {
				return nil
			}
			return x[voff : voff+vlen]
		}
		p = (end + 3) &^ 3
	}
	return nil
}

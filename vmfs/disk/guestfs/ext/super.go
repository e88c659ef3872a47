package ext

import (
	"encoding/binary"
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// superblock is what the reader needs of the ext2/3/4 superblock, 1024
// bytes at byte 1024 of the file system (copies at the start of block
// groups 1, 3^n, 5^n, 7^n with sparse_super, of every group without).
// Offsets in the superblock:
//
//	0x00 s_inodes_count      u32    0x04 s_blocks_count_lo  u32
//	0x14 s_first_data_block  u32    0x18 s_log_block_size   u32 (1024<<n)
//	0x20 s_blocks_per_group  u32    0x28 s_inodes_per_group u32
//	0x38 s_magic             u16 (0xEF53)
//	0x4C s_rev_level         u32    0x54 s_first_ino        u32 (rev 1)
//	0x58 s_inode_size        u16 (rev 1; 128 at rev 0)
//	0x5A s_block_group_nr    u16 (the group this copy lies in)
//	0x5C s_feature_compat    u32    0x60 s_feature_incompat u32
//	0x64 s_feature_ro_compat u32    0xFE s_desc_size        u16 (64bit)
//	0xE0 s_journal_inum      u32 (has_journal; 0 with a journal device)
//	0x104 s_first_meta_bg    u32    0x150 s_blocks_count_hi u32 (64bit)
type superblock struct {
	inodes      uint32
	blocks      int64
	firstData   int64
	blockSize   int64
	perGroup    int64 // blocks per group
	inodesPer   int64 // inodes per group
	inodeSize   int64
	firstIno    uint32
	groupNr     int64
	compat      uint32
	incompat    uint32
	roCompat    uint32
	descSize    int64
	firstMetaBG int64
	journalIno  uint32
	variant     string // ext2, ext3, ext4 as partition.DetectFS names them
}

// Feature flags the reader acts on.
const (
	compatHasJournal   = 0x4
	incompatFiletype   = 0x2
	incompatRecover    = 0x4 // the journal holds changes not yet written in place
	incompatJournalDev = 0x8
	incompatMetaBG     = 0x10
	incompatExtents    = 0x40
	incompat64bit      = 0x80
	incompatInlineData = 0x8000
	incompatEncrypt    = 0x10000
	roCompatSparse     = 0x1
	roCompatGdtCsum    = 0x10
	roCompatMetaCsum   = 0x400
)

const (
	superOff  = 1024
	superSize = 1024
	extMagic  = 0xEF53
)

// parseSuper decodes and checks a superblock copy read at byte off of the
// reader (size bytes). Every count the reader later trusts is checked
// here against the others and the size.
func parseSuper(b []byte, off, size int64) (*superblock, error) {
	le := binary.LittleEndian
	bad := func(format string, a ...any) error { return corrupt("ext superblock", off, format, a...) }
	if len(b) < superSize {
		return nil, bad("short: %d bytes", len(b))
	}
	if m := le.Uint16(b[0x38:]); m != extMagic {
		return nil, fail(ErrNotExt, "ext superblock", off, "magic %#04x, not 0xEF53", m)
	}
	s := &superblock{
		inodes:     le.Uint32(b[0x00:]),
		blocks:     int64(le.Uint32(b[0x04:])),
		firstData:  int64(le.Uint32(b[0x14:])),
		perGroup:   int64(le.Uint32(b[0x20:])),
		inodesPer:  int64(le.Uint32(b[0x28:])),
		inodeSize:  128,
		firstIno:   11,
		groupNr:    int64(le.Uint16(b[0x5A:])),
		compat:     le.Uint32(b[0x5C:]),
		incompat:   le.Uint32(b[0x60:]),
		roCompat:   le.Uint32(b[0x64:]),
		descSize:   32,
		journalIno: le.Uint32(b[0xE0:]),
		variant:    partition.ExtVariant(b),
	}
	logBS := le.Uint32(b[0x18:])
	if logBS > 6 {
		return nil, bad("block size 1024<<%d", logBS)
	}
	s.blockSize = 1024 << logBS
	if le.Uint32(b[0x4C:]) >= 1 {
		s.inodeSize = int64(le.Uint16(b[0x58:]))
		s.firstIno = le.Uint32(b[0x54:])
	}
	if s.incompat&incompat64bit != 0 {
		s.blocks |= int64(le.Uint32(b[0x150:])) << 32
		s.descSize = int64(le.Uint16(b[0xFE:]))
		if s.descSize < 64 || s.descSize > 1024 || s.descSize&(s.descSize-1) != 0 {
			return nil, bad("group descriptor size %d", s.descSize)
		}
	}
	if s.incompat&incompatMetaBG != 0 {
		s.firstMetaBG = int64(le.Uint32(b[0x104:]))
	}
	switch {
	case s.incompat&incompatJournalDev != 0:
		return nil, fail(ErrUnsupported, "ext superblock", off, "an external journal device holds no files")
	case s.inodeSize < 128 || s.inodeSize > s.blockSize || s.inodeSize&(s.inodeSize-1) != 0:
		return nil, bad("inode size %d", s.inodeSize)
	case s.perGroup < 8 || s.perGroup > 8*s.blockSize:
		return nil, bad("%d blocks per group with %d-byte blocks", s.perGroup, s.blockSize)
	case s.inodesPer <= 0 || s.inodesPer > 8*s.blockSize:
		return nil, bad("%d inodes per group", s.inodesPer)
	case s.firstData > 1 || (s.firstData == 1 && s.blockSize != 1024):
		return nil, bad("first data block %d with %d-byte blocks", s.firstData, s.blockSize)
	case s.blocks <= s.firstData || s.blocks > (1<<48):
		return nil, bad("%d blocks", s.blocks)
	case s.inodes == 0 || int64(s.inodes) > s.groups()*s.inodesPer:
		return nil, bad("%d inodes in %d groups of %d", s.inodes, s.groups(), s.inodesPer)
	case s.groups()*s.descSize > size:
		return nil, bad("%d block groups' descriptors do not fit in %d bytes", s.groups(), size)
	case s.firstIno < 3 || s.firstIno > s.inodes:
		return nil, bad("first inode %d", s.firstIno)
	}
	return s, nil
}

// groups is the number of block groups.
func (s *superblock) groups() int64 {
	return (s.blocks - s.firstData + s.perGroup - 1) / s.perGroup
}

// groupStart is the first block of group g.
func (s *superblock) groupStart(g int64) int64 { return s.firstData + g*s.perGroup }

// hasSuper reports whether group g holds a copy of the superblock (and of
// the group descriptors, without meta_bg).
func (s *superblock) hasSuper(g int64) bool {
	if g <= 1 || s.roCompat&roCompatSparse == 0 {
		return true
	}
	for _, p := range []int64{3, 5, 7} {
		n := p
		for n < g {
			n *= p
		}
		if n == g {
			return true
		}
	}
	return false
}

// backupGroups are the groups whose superblock copies are tried, in order,
// when the primary is destroyed (sparse_super places them there; without
// it every group has one, and these are among them).
var backupGroups = []int64{1, 3, 5, 7, 9, 25, 27, 49, 81, 125, 243, 343, 625, 729, 2187, 2401, 3125}

// findSuper reads the primary superblock, or when it is destroyed the
// first intact backup copy: for each block size, groups of 8 blocks per
// bit of a block (what mke2fs makes), the copy records its own group.
// primaryErr is the error the primary gave when a backup is used.
func findSuper(r io.ReaderAt, size int64) (s *superblock, at int64, primaryErr error) {
	b := make([]byte, superSize)
	read := func(off int64) []byte {
		if off+superSize > size {
			return nil
		}
		if _, err := r.ReadAt(b, off); err != nil && err != io.EOF {
			return nil
		}
		return b
	}
	if read(superOff) == nil {
		return nil, 0, corrupt("ext superblock", superOff, "cannot be read from %d bytes", size)
	}
	s, primaryErr = parseSuper(b, superOff, size)
	if primaryErr == nil {
		return s, superOff, nil
	}
	for logBS := int64(0); logBS <= 6; logBS++ {
		bs := int64(1024) << logBS
		first := int64(0)
		if bs == 1024 {
			first = 1
		}
		for _, g := range backupGroups {
			off := (first + g*8*bs) * bs
			if read(off) == nil {
				break
			}
			c, err := parseSuper(b, off, size)
			if err != nil || c.blockSize != bs || c.groupNr != g || c.groupStart(g)*c.blockSize != off {
				continue
			}
			return c, off, primaryErr
		}
	}
	return nil, 0, primaryErr
}

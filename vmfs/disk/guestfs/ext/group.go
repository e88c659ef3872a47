package ext

import (
	"encoding/binary"
	"io"
)

// group is what the reader needs of a block group descriptor, 32 bytes
// (64 or s_desc_size with the 64bit feature):
//
//	0x00 bg_block_bitmap_lo u32   0x04 bg_inode_bitmap_lo u32
//	0x08 bg_inode_table_lo  u32   0x12 bg_flags           u16
//	0x1C bg_itable_unused_lo u16
//	0x20 bg_block_bitmap_hi u32   0x28 bg_inode_table_hi  u32 (64bit)
//	0x32 bg_itable_unused_hi u16 (64bit)
type group struct {
	blockBitmap int64
	inodeTable  int64
	flags       uint16
	unused      int64 // inodes at the end of the table never used (gdt_csum)
}

// Flags of bg_flags.
const (
	bgInodeUninit = 0x1 // the inode table was never initialised
	bgBlockUninit = 0x2 // the block bitmap was never written: all free
)

// descBlock returns the block that holds the descriptors of descriptor
// block i (each holds blockSize/descSize groups), for the superblock
// copy at block sbBlock: right after it without meta_bg and for the
// first s_first_meta_bg blocks, else in the first block group of its meta
// group (after that group's superblock copy), or in the next group's copy
// when reading from a backup.
func (s *superblock) descBlock(sbBlock, i int64) int64 {
	if s.incompat&incompatMetaBG == 0 || i < s.firstMetaBG {
		return sbBlock + 1 + i
	}
	g := i * (s.blockSize / s.descSize)
	if sbBlock != s.firstData && g+1 < s.groups() {
		g++
	}
	b := s.groupStart(g)
	if s.hasSuper(g) {
		b++
	}
	return b
}

// readGroups reads every group descriptor for the superblock copy at byte
// sbOff, checking where each table lies.
func readGroups(r io.ReaderAt, s *superblock, sbOff, size int64) ([]group, error) {
	le := binary.LittleEndian
	sbBlock := sbOff / s.blockSize // 1024 is block 1 (= s_first_data_block) with 1 KiB blocks
	perBlock := s.blockSize / s.descSize
	n := s.groups()
	gs := make([]group, 0, n)
	buf := make([]byte, s.blockSize)
	tableBlocks := (s.inodesPer*s.inodeSize + s.blockSize - 1) / s.blockSize
	for i := int64(0); i*perBlock < n; i++ {
		blk := s.descBlock(sbBlock, i)
		off := blk * s.blockSize
		if blk >= s.blocks || off+s.blockSize > size {
			return nil, corrupt("ext group descriptors", off, "block %d of descriptors lies past the end (%d blocks, %d bytes)", blk, s.blocks, size)
		}
		if _, err := r.ReadAt(buf, off); err != nil && err != io.EOF {
			return nil, err
		}
		for j := int64(0); j < perBlock && int64(len(gs)) < n; j++ {
			d := buf[j*s.descSize:]
			g := group{
				blockBitmap: int64(le.Uint32(d[0x00:])),
				inodeTable:  int64(le.Uint32(d[0x08:])),
				flags:       le.Uint16(d[0x12:]),
				unused:      int64(le.Uint16(d[0x1C:])),
			}
			if s.descSize >= 64 {
				g.blockBitmap |= int64(le.Uint32(d[0x20:])) << 32
				g.inodeTable |= int64(le.Uint32(d[0x28:])) << 32
				g.unused |= int64(le.Uint16(d[0x32:])) << 16
			}
			if s.roCompat&(roCompatGdtCsum|roCompatMetaCsum) == 0 {
				g.flags, g.unused = 0, 0
			}
			if g.unused > s.inodesPer {
				g.unused = s.inodesPer
			}
			if g.inodeTable <= 0 || g.inodeTable+tableBlocks > s.blocks {
				return nil, corrupt("ext group descriptor", off+j*s.descSize, "group %d: inode table at block %d (%d blocks in the file system)", len(gs), g.inodeTable, s.blocks)
			}
			gs = append(gs, g)
		}
	}
	return gs, nil
}

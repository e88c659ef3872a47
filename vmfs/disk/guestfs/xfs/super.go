package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Classes of the errors the reader returns, found with errors.Is through
// *ondisk.FormatError.
var (
	// ErrNotXFS: no superblock, primary or secondary, was found.
	ErrNotXFS = errors.New("not an XFS file system")
	// ErrCorrupt: a structure fails its magic, checksum or bounds.
	ErrCorrupt = errors.New("corrupt XFS file system")
	// ErrUnsupported: the file system uses a feature the reader does not
	// read (a realtime device, an unknown incompatible feature).
	ErrUnsupported = errors.New("unsupported XFS feature")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func corrupt(structure string, off int64, format string, args ...any) error {
	return &ondisk.FormatError{Struct: structure, Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

func unsupported(structure string, off int64, format string, args ...any) error {
	return &ondisk.FormatError{Struct: structure, Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}

// crcOK checks the CRC32C of a v5 metadata block: the little-endian
// checksum at crcOff is that of the block with those four bytes zeroed.
func crcOK(b []byte, crcOff int) bool {
	want := binary.LittleEndian.Uint32(b[crcOff:])
	c := crc32.Update(0, castagnoli, b[:crcOff])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	c = crc32.Update(c, castagnoli, b[crcOff+4:])
	return c == want
}

// Superblock features the reader acts on.
const (
	versionNumMask   = 0x000f
	versionDirV2Bit  = 0x2000
	versionMoreBits  = 0x8000
	features2FType   = 0x0200
	incompatFType    = 0x01
	incompatSpinodes = 0x02
	incompatMetaUUID = 0x04
	incompatBigtime  = 0x08
	incompatRepair   = 0x10
	incompatNrext64  = 0x20
	incompatExchange = 0x40
	incompatParent   = 0x80
	// incompatKnown are the v5 incompatible features that change nothing
	// this reader decodes or that it decodes: others refuse the mount.
	incompatKnown = incompatFType | incompatSpinodes | incompatMetaUUID | incompatBigtime |
		incompatRepair | incompatNrext64 | incompatExchange | incompatParent
)

// superblock is the head of every allocation group (xfs_dsb); AG 0's is
// the primary, the others are copies mkfs and growfs write. Big-endian:
//
//	0 magic "XFSB"   4 blocksize u32   8 dblocks u64   32 uuid [16]
//	56 rootino u64   84 agblocks u32   88 agcount u32  100 versionnum u16
//	102 sectsize u16 104 inodesize u16 120 blocklog, sectlog, inodelog,
//	inopblog, agblklog u8   192 dirblklog u8   200 features2 u32
//	216 features_incompat u32   224 crc u32 (little-endian, v5)
type superblock struct {
	blockSize int64
	dblocks   uint64
	rootIno   uint64
	agBlocks  uint32
	agCount   uint32
	version   int // 4 or 5
	sectSize  int
	inodeSize int
	blockLog  uint8
	inodeLog  uint8
	inoPBLog  uint8
	agBlkLog  uint8
	dirBlkLog uint8
	ftype     bool
	incompat  uint32 // v5: bigtime and nrext64 are read from each inode's flags2
	// inProgress: mkfs did not finish (sb_inprogress, byte 126).
	inProgress bool
}

const sbSize = 512 // what decodeSuper reads; a sector is at least this

// decodeSuper checks and decodes a superblock read at off (its sector,
// sectSize bytes when v5, for the checksum).
func decodeSuper(b []byte, off int64) (*superblock, error) {
	const what = "XFS superblock"
	be := binary.BigEndian
	if len(b) < sbSize || string(b[:4]) != "XFSB" {
		return nil, &ondisk.FormatError{Struct: what, Off: off, Msg: "no XFSB magic", Err: ErrNotXFS}
	}
	sb := &superblock{
		blockSize:  int64(be.Uint32(b[4:])),
		dblocks:    be.Uint64(b[8:]),
		rootIno:    be.Uint64(b[56:]),
		agBlocks:   be.Uint32(b[84:]),
		agCount:    be.Uint32(b[88:]),
		version:    int(be.Uint16(b[100:]) & versionNumMask),
		sectSize:   int(be.Uint16(b[102:])),
		inodeSize:  int(be.Uint16(b[104:])),
		blockLog:   b[120],
		inodeLog:   b[122],
		inoPBLog:   b[123],
		agBlkLog:   b[124],
		dirBlkLog:  b[192],
		inProgress: b[126] != 0,
	}
	vn := be.Uint16(b[100:])
	switch sb.version {
	case 4:
		if vn&versionDirV2Bit == 0 {
			return nil, unsupported(what, off, "version 1 directories")
		}
		sb.ftype = vn&versionMoreBits != 0 && be.Uint32(b[200:])&features2FType != 0
	case 5:
		sb.incompat = be.Uint32(b[216:])
		sb.ftype = sb.incompat&incompatFType != 0
	default:
		return nil, unsupported(what, off, "version %d", sb.version)
	}
	switch {
	case sb.blockSize < 512 || sb.blockSize > 65536 || sb.blockSize != 1<<sb.blockLog:
		return nil, corrupt(what, off, "block size %d (log %d)", sb.blockSize, sb.blockLog)
	case sb.sectSize < 512 || sb.sectSize > 32768 || sb.sectSize&(sb.sectSize-1) != 0:
		return nil, corrupt(what, off, "sector size %d", sb.sectSize)
	case sb.inodeSize < 256 || sb.inodeSize > 2048 || sb.inodeSize != 1<<sb.inodeLog || int64(sb.inodeSize) > sb.blockSize:
		return nil, corrupt(what, off, "inode size %d (log %d)", sb.inodeSize, sb.inodeLog)
	case int(sb.inoPBLog) != int(sb.blockLog)-int(sb.inodeLog):
		return nil, corrupt(what, off, "%d inodes a block (log), want %d", sb.inoPBLog, sb.blockLog-sb.inodeLog)
	case sb.agBlocks < 64 || sb.agCount == 0 || sb.agBlkLog > 31 || uint64(sb.agBlocks) > 1<<sb.agBlkLog || uint64(sb.agBlocks) <= 1<<sb.agBlkLog>>1:
		return nil, corrupt(what, off, "%d allocation groups of %d blocks (log %d)", sb.agCount, sb.agBlocks, sb.agBlkLog)
	case sb.dblocks == 0 || sb.dblocks > uint64(sb.agCount)*uint64(sb.agBlocks) || sb.dblocks <= uint64(sb.agCount-1)*uint64(sb.agBlocks):
		return nil, corrupt(what, off, "%d blocks in %d groups of %d", sb.dblocks, sb.agCount, sb.agBlocks)
	case bits.Len64(sb.dblocks)+int(sb.blockLog) > 62:
		return nil, corrupt(what, off, "%d blocks of %d bytes", sb.dblocks, sb.blockSize)
	case int(sb.blockLog)+int(sb.dirBlkLog) > 16:
		return nil, corrupt(what, off, "directory blocks of 2^%d blocks", sb.dirBlkLog)
	}
	if sb.version == 5 {
		if len(b) < sb.sectSize {
			return nil, corrupt(what, off, "short sector")
		}
		if !crcOK(b[:sb.sectSize], 224) {
			return nil, corrupt(what, off, "bad checksum")
		}
		if unknown := sb.incompat &^ incompatKnown; unknown != 0 {
			return nil, unsupported(what, off, "incompatible features %#x", unknown)
		}
	}
	return sb, nil
}

// notes are what the superblock says of the file system's state. mkfs
// leaves sb_inprogress set in the copies: only the primary's counts.
func (sb *superblock) notes(primary bool) []string {
	var out []string
	if sb.inProgress && primary {
		out = append(out, "XFS superblock says mkfs did not finish (sb_inprogress): the file system may be incomplete")
	}
	if sb.incompat&incompatRepair != 0 {
		out = append(out, "XFS superblock says the file system needs repair (xfs_repair was interrupted): what is read may be inconsistent")
	}
	return out
}

// agSize is the byte length of a full allocation group.
func (sb *superblock) agSize() int64 { return int64(sb.agBlocks) * sb.blockSize }

// fsbOffset is the byte offset of file-system block fsb (AG number in the
// bits above agblklog), and whether it lies inside the file system.
func (sb *superblock) fsbOffset(fsb uint64) (int64, bool) {
	ag, agb := fsb>>sb.agBlkLog, fsb&(1<<sb.agBlkLog-1)
	if ag >= uint64(sb.agCount) || agb >= uint64(sb.agBlocks) {
		return 0, false
	}
	blk := ag*uint64(sb.agBlocks) + agb
	if blk >= sb.dblocks {
		return 0, false
	}
	return int64(blk) << sb.blockLog, true
}

// inodeOffset is the byte offset of inode ino: its AG, its block in the
// AG and its slot in the block are fields of the number.
func (sb *superblock) inodeOffset(ino uint64) (int64, bool) {
	slot := ino & (1<<sb.inoPBLog - 1)
	off, ok := sb.fsbOffset(ino >> sb.inoPBLog)
	if !ok || ino>>(sb.inoPBLog+sb.agBlkLog) >= uint64(sb.agCount) {
		return 0, false
	}
	return off + int64(slot)<<sb.inodeLog, true
}

// readSuper reads the sector at off and decodes its superblock.
func readSuper(r io.ReaderAt, off int64) (*superblock, error) {
	b := make([]byte, 32768)
	n, err := r.ReadAt(b, off)
	if n < sbSize {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading the XFS superblock at %#x: %w", off, err)
	}
	return decodeSuper(b[:n], off)
}

// findSuper opens the primary superblock, or when it is destroyed the copy
// at the head of a later allocation group, and says which in warn.
func findSuper(r io.ReaderAt, size int64) (sb *superblock, warn string, err error) {
	sb, err = readSuper(r, 0)
	if err == nil {
		return sb, "", nil
	}
	primary := err
	for _, off := range secondaryCandidates(r, size) {
		if c, cerr := readSuper(r, off); cerr == nil && isCopyAt(c, off) {
			return c, fmt.Sprintf("XFS primary superblock unusable (%v); opened from the copy of allocation group %d at byte %d", primary, off/c.agSize(), off), nil
		}
	}
	if off, ok := scanForCopy(r, size); ok {
		c, _ := readSuper(r, off)
		return c, fmt.Sprintf("XFS primary superblock unusable (%v); opened from the copy of allocation group %d at byte %d", primary, off/c.agSize(), off), nil
	}
	return nil, "", primary
}

// isCopyAt says whether superblock c, read at off, is the copy at the head
// of one of its own allocation groups after the first.
func isCopyAt(c *superblock, off int64) bool {
	return off > 0 && off%c.agSize() == 0 && off/c.agSize() < int64(c.agCount)
}

// secondaryCandidates are where AG 1's superblock lies for the geometries
// that the size of the reader and a surviving AGF of AG 0 suggest: mkfs
// divides the device into agcount groups of ceil(blocks/agcount) blocks,
// groups are at most 1 TiB, and AG 0's AGF (one sector in) gives the
// group length.
func secondaryCandidates(r io.ReaderAt, size int64) []int64 {
	var out []int64
	seen := map[int64]bool{}
	add := func(off int64) {
		if off > 0 && off+sbSize <= size && !seen[off] {
			seen[off] = true
			out = append(out, off)
		}
	}
	agf := make([]byte, 16)
	for sect := int64(512); sect <= 32768; sect *= 2 {
		if _, err := r.ReadAt(agf, sect); err == nil && string(agf[:4]) == "XAGF" {
			length := int64(binary.BigEndian.Uint32(agf[12:]))
			for bs := int64(512); bs <= 65536; bs *= 2 {
				add(length * bs)
			}
		}
	}
	for _, bs := range []int64{4096, 512, 1024, 2048, 8192, 16384, 32768, 65536} {
		blocks := size / bs
		for n := int64(2); n <= 64; n++ {
			add((blocks + n - 1) / n * bs)
		}
	}
	add(1 << 40)
	return out
}

// scanForCopy looks, sector by sector, within 1 MiB of each 1/n of the
// reader for a superblock copy that places itself: a stripe-aligned mkfs
// moves the groups by up to a stripe unit, and a partition may be a little
// larger than its file system.
func scanForCopy(r io.ReaderAt, size int64) (int64, bool) {
	const window = 2 << 20
	buf := make([]byte, window)
	for n := int64(2); n <= 32; n++ {
		start := (size/n - window/2) &^ 511
		if start <= 0 {
			break
		}
		k, _ := r.ReadAt(buf, start)
		for i := 0; i+sbSize <= k; i += 512 {
			if string(buf[i:i+4]) != "XFSB" {
				continue
			}
			off := start + int64(i)
			if c, err := readSuper(r, off); err == nil && isCopyAt(c, off) {
				return off, true
			}
		}
	}
	return 0, false
}

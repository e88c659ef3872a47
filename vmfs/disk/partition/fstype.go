package partition

import (
	"bytes"
	"encoding/binary"
	"io"
)

// FS names returned by DetectFS.
const (
	FSNTFS  = "NTFS"
	FSExFAT = "exFAT"
	FSFAT12 = "FAT12"
	FSFAT16 = "FAT16"
	FSFAT32 = "FAT32"
	FSExt2  = "ext2"
	FSExt3  = "ext3"
	FSExt4  = "ext4"
	FSXFS   = "XFS"
	FSLVM2  = "LVM2"
	FSSwap  = "swap"
	FSReFS  = "ReFS"
	FSBtrfs = "Btrfs"
	FSVMFS  = "VMFS"   // LVM header 0xC001D00D at +1 MiB
	FSVMFSL = "VMFS-L" // file-system descriptor magic 0x2FABF15F
	FSISO   = "ISO9660"
	// FSBitLocker: a volume encrypted by BitLocker (its boot sector's OEM
	// ID), whose file system cannot be read without the key.
	FSBitLocker = "BitLocker"
)

// signature is one file-system magic: bytes at an offset from the start of
// the partition.
type signature struct {
	off   int64
	magic string
	fs    string
}

// Checked in order; the FAT and ext checks need more than a magic and are
// done separately.
var signatures = []signature{
	{3, "NTFS    ", FSNTFS},
	{3, "EXFAT   ", FSExFAT},
	{3, "ReFS\x00\x00\x00\x00", FSReFS},
	{3, "-FVE-FS-", FSBitLocker},
	{0, "XFSB", FSXFS},
	{0x10040, "_BHRfS_M", FSBtrfs},
	{4096 - 10, "SWAPSPACE2", FSSwap},
	{4096 - 10, "SWAP-SPACE", FSSwap},
	{0x8001, "CD001", FSISO},
}

// DetectFS names the file system that starts at offset 0 of r (a
// partition), or returns "" when no known signature matches. It reads at most
// a few sectors from fixed offsets and never fails: read errors mean "not
// recognised".
func DetectFS(r io.ReaderAt, size int64) string {
	at := func(off int64, n int) []byte {
		if off < 0 || off+int64(n) > size {
			return nil
		}
		b := make([]byte, n)
		if _, err := r.ReadAt(b, off); err != nil && err != io.EOF {
			return nil
		}
		return b
	}
	for _, s := range signatures {
		if b := at(s.off, len(s.magic)); b != nil && string(b) == s.magic {
			return s.fs
		}
	}
	// LVM2: "LABELONE" in one of the first four sectors, "LVM2 001" at +24.
	for sec := int64(0); sec < 4; sec++ {
		if b := at(sec*512, 32); b != nil && string(b[:8]) == "LABELONE" && string(b[24:32]) == "LVM2 001" {
			return FSLVM2
		}
	}
	// ext2/3/4: superblock at 1024, magic 0xEF53 at +56.
	if sb := at(1024, 104); sb != nil && binary.LittleEndian.Uint16(sb[56:]) == 0xEF53 {
		return ExtVariant(sb)
	}
	// VMFS: the LVM header sits 1 MiB into the partition.
	if b := at(0x100000, 4); b != nil && binary.LittleEndian.Uint32(b) == 0xC001D00D {
		if fsd := at(0x1300000, 4); fsd != nil && binary.LittleEndian.Uint32(fsd) == 0x2FABF15F {
			return FSVMFSL
		}
		return FSVMFS
	}
	// FAT: boot sector signature plus the type string of the BPB.
	if bs := at(0, 512); bs != nil && bs[510] == 0x55 && bs[511] == 0xAA {
		switch {
		case bytes.HasPrefix(bs[82:], []byte("FAT32   ")):
			return FSFAT32
		case bytes.HasPrefix(bs[54:], []byte("FAT16   ")):
			return FSFAT16
		case bytes.HasPrefix(bs[54:], []byte("FAT12   ")):
			return FSFAT12
		}
	}
	// NTFS whose boot sector is destroyed (the head ransomware wipes): its
	// backup in the partition's last sector, counting the sectors before
	// it (so that a partition's backup at the end of a whole disk does
	// not pass for a file system at the disk's start).
	for _, bps := range []int64{512, 4096} {
		if bs := at(size-bps, 512); bs != nil && string(bs[3:11]) == "NTFS    " && bs[510] == 0x55 && bs[511] == 0xAA &&
			int64(binary.LittleEndian.Uint16(bs[11:])) == bps && int64(binary.LittleEndian.Uint64(bs[40:]))*bps == size-bps {
			return FSNTFS
		}
	}
	return ""
}

// ExtVariant tells ext2, ext3 and ext4 apart by the feature flags of a
// superblock (at least 104 bytes).
func ExtVariant(sb []byte) string {
	compat, incompat := binary.LittleEndian.Uint32(sb[92:]), binary.LittleEndian.Uint32(sb[96:])
	const (
		hasJournal = 0x4
		extents    = 0x40
		bit64      = 0x80
		flexBG     = 0x200
	)
	switch {
	case incompat&(extents|bit64|flexBG) != 0:
		return FSExt4
	case compat&hasJournal != 0:
		return FSExt3
	default:
		return FSExt2
	}
}

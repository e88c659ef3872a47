package layout

// File descriptor types, in the FD and in directory entries (vmfs.md:
// "File descriptors").
const (
	TypeVolume    = 1
	TypeDirectory = 2
	TypeRegular   = 3
	TypeSymlink   = 4
	TypeSystem    = 5
	TypeRDM       = 6
)

// Zero-level addressing modes: what an FD's pointers point at (vmfs.md:
// "Addressing modes").
const (
	ZLAFileBlock      = 1
	ZLASubBlock       = 2
	ZLAPointerBlock   = 3
	ZLAPointerBlock2  = 5
	ZLADoubleIndirect = 0x10D0
	ZLAResident       = 0x10D1 // no pointers: the data is in the FD
)

// FDMeta is the file metadata of a descriptor slot, at FDSlot.Meta
// (vmfs.md: "File descriptors"). The to-be-zeroed count is split in two
// words; fields the reader does not use are here because the writer
// copies what the samples hold into them.
var FDMeta = struct {
	Addr, Generation, Links, Type, Flags, Length, BlockSize, Blocks,
	MTime, CTime, ATime, UID, GID, Mode, ZLA, TBZLo, NewSinceEpoch,
	TBZHi, PointerBlocks, Signature, AffinityFD, TBZShift, ParentFD,
	BlockShift Field
}{
	Addr: Field{0x00, 4}, Generation: Field{0x04, 4}, Links: Field{0x08, 4},
	Type: Field{0x0C, 4}, Flags: Field{0x10, 4}, Length: Field{0x14, 8},
	BlockSize: Field{0x1C, 8}, Blocks: Field{0x24, 8}, MTime: Field{0x2C, 4},
	CTime: Field{0x30, 4}, ATime: Field{0x34, 4}, UID: Field{0x38, 4},
	GID: Field{0x3C, 4}, Mode: Field{0x40, 4}, ZLA: Field{0x44, 4},
	TBZLo: Field{0x48, 4}, NewSinceEpoch: Field{0x50, 4}, TBZHi: Field{0x54, 4},
	PointerBlocks: Field{0x5C, 4}, Signature: Field{0x64, 4},
	AffinityFD: Field{0x68, 4}, TBZShift: Field{0x6C, 4}, ParentFD: Field{0x70, 4},
	BlockShift: Field{0x89, 1},
}

// FDMetaSize is the bytes of FDMeta a carver needs to see.
const FDMetaSize = 0x100

// FDSlot is where the parts of a descriptor slot lie, as offsets from
// the slot's start (vmfs.md: "File descriptors"): the lock block at 0,
// the metadata, then the data area, which holds either the resident
// data (DataCap bytes at Data) or PtrCount pointers of PtrSize bytes at
// Ptrs, running to the end of the slot.
type FDSlot struct {
	Size, Meta, Data, DataCap, Ptrs, PtrCount, PtrSize int64
}

// FDSlotOf is the slot of VMFS3/5 (2048 bytes, 256 u32 pointers) or of
// VMFS6 with metadata block md (two metadata blocks; 320 u64 pointers
// with the usual 4 KiB md, md/16 with another).
func FDSlotOf(v6 bool, md int64) FDSlot {
	if !v6 {
		return FDSlot{Size: 2048, Meta: 0x200, Data: 0x400, DataCap: 1024, Ptrs: 0x400, PtrCount: 256, PtrSize: 4}
	}
	count := md / 16
	if md == 4096 {
		count = 320
	}
	return FDSlot{Size: 2 * md, Meta: md, Data: md + 0x200, DataCap: md - 0x200,
		Ptrs: 2*md - count*8, PtrCount: count, PtrSize: 8}
}

// PointerBlock is the number of pointers in one pointer block and the
// size of each (vmfs.md: "Mapping a file offset"): 1024 u32 before
// VMFS6, at least 8192 u64 on VMFS6.
func PointerBlock(v6 bool, md int64) (count, size int64) {
	if v6 {
		return max(8192, md/8), 8
	}
	return 1024, 4
}

package layout

// Fixed places of a volume (vmfs.md: "Volume layout").
const (
	FSDescOffset    = 0x200000 // file-system descriptor, volume offset
	FSDescSize      = 0x200
	HeartbeatOffset = 0x300000 // heartbeat region, volume offset
)

// Magic numbers and signatures (vmfs.md: "File-system descriptor",
// "Heartbeats and lock blocks", "Resource files", "Cluster metadata",
// "File descriptors").
const (
	FSMagic       = 0x2FABF15E
	FSMagicL      = 0x2FABF15F // ESXi 7+ OSDATA (VMFS-L)
	HeartbeatFree = 0xABCDEF01
	HeartbeatUsed = 0xABCDEF02
	ResSignature  = 0x72666D64 // "rfmd", VMFS6 resource-file header
	ClusterSig    = 0x72636D64 // "rcmd", VMFS6 cluster metadata
	FDSignature   = 0x66646D64 // "fdmd", VMFS6 file metadata
)

// Lock magics: the first word of every lock block, by what it guards
// (vmfs.md: "Heartbeats and lock blocks").
const (
	LockFD  = 0x10C00001 // file descriptor
	LockFBB = 0x10C00002 // .fbb.sf cluster (VMFS6: small file blocks)
	LockSBC = 0x10C00003 // .sbc.sf cluster
	LockPBC = 0x10C00004 // .pbc.sf cluster
	LockFDC = 0x10C00005 // .fdc.sf cluster
	LockPB2 = 0x10C00006 // .pb2.sf cluster
	LockJBC = 0x10C00007 // .jbc.sf cluster (VMFS6)
	LockLFB = 0x10C00008 // .fbb.sf large-block cluster (VMFS6)
)

// FSDesc is the file-system descriptor at FSDescOffset (vmfs.md:
// "File-system descriptor"). It is packed: the odd offsets are real.
// Fields the reader does not use are here because the writer copies
// what the samples hold into them.
var FSDesc = struct {
	Magic, Major, Minor, UUID, Config, Label, DiskBlockSize, BlockSize,
	CreationTime, SnapID, LVMUUID, VolInfoWord, FDCGroupOffset,
	FDCPerGroup, SubBlockSize, JournalSlots, PB2VolAddr, PB2FD,
	Generation, SDDVolAddr, SDDFD, UnmapPriority, PhysBlockSize,
	MDAlignment, LFBShift, PtrBlockShift, SFBAddrBits, TBZGranularity,
	JournalBlockSize, LeaseMillis, ReclaimMillis Field
}{
	Magic: Field{0x00, 4}, Major: Field{0x04, 4}, Minor: Field{0x08, 1},
	UUID: Field{0x09, 16}, Config: Field{0x19, 4}, Label: Field{0x1D, 128},
	DiskBlockSize: Field{0x9D, 4}, BlockSize: Field{0xA1, 8},
	CreationTime: Field{0xA9, 4}, SnapID: Field{0xAD, 4},
	LVMUUID: Field{0xB1, 16}, VolInfoWord: Field{0xC1, 4},
	FDCGroupOffset: Field{0xD1, 4}, FDCPerGroup: Field{0xD5, 4},
	SubBlockSize: Field{0xD9, 4}, JournalSlots: Field{0xDD, 4},
	PB2VolAddr: Field{0xE1, 8}, PB2FD: Field{0xE9, 4},
	Generation: Field{0xFD, 8}, SDDVolAddr: Field{0x105, 8}, SDDFD: Field{0x10D, 4},
	UnmapPriority: Field{0x112, 2}, PhysBlockSize: Field{0x130, 4},
	MDAlignment: Field{0x134, 4}, LFBShift: Field{0x138, 2},
	PtrBlockShift: Field{0x13E, 2}, SFBAddrBits: Field{0x140, 2},
	TBZGranularity: Field{0x144, 4}, JournalBlockSize: Field{0x148, 4},
	LeaseMillis: Field{0x14C, 4}, ReclaimMillis: Field{0x150, 4},
}

// Heartbeat is one slot of the heartbeat region (vmfs.md: "Heartbeats and
// lock blocks"): its state and its own volume offset.
var Heartbeat = struct{ State, Self Field }{State: Field{0x00, 4}, Self: Field{0x04, 8}}

// HeartbeatSlots is the number and size of the heartbeat slots: 2048 of
// 512 bytes before VMFS6, 1024 of one metadata block (md) on VMFS6.
func HeartbeatSlots(v6 bool, md int64) (n, size int64) {
	if v6 {
		return 1024, md
	}
	return 2048, 512
}

// Lock is the lock block at the start of every file descriptor and
// resource cluster header (vmfs.md: "Heartbeats and lock blocks"): its
// magic and its own volume offset, from which a deep scan finds the
// volume's origin.
var Lock = struct{ Magic, Self Field }{Magic: Field{0x00, 4}, Self: Field{0x04, 8}}

// ResHeaderSize is the bytes of a resource-file header the reader reads.
const ResHeaderSize = 0x200

// ResHeader is the header at offset 0 of every resource file (vmfs.md:
// "Resource files"). The fields from Signature on are VMFS6's; the
// Parent* ones describe, in a child header, the level it nests in.
var ResHeader = struct {
	PerCluster, PerGroup, GroupOffset, ResSize, GroupSize, ResourcesLo,
	Groups, ResourcesHi, Signature, Version, Flags, BitsPerResource,
	ChildOffset, ParentPerCluster, ParentPerGroup, ParentGroupSize Field
}{
	PerCluster: Field{0x00, 4}, PerGroup: Field{0x04, 4}, GroupOffset: Field{0x08, 4},
	ResSize: Field{0x0C, 4}, GroupSize: Field{0x10, 4}, ResourcesLo: Field{0x14, 4},
	Groups: Field{0x18, 4}, ResourcesHi: Field{0x1C, 4}, Signature: Field{0x20, 4},
	Version: Field{0x24, 4}, Flags: Field{0x28, 4}, BitsPerResource: Field{0x30, 4},
	ChildOffset: Field{0x34, 4}, ParentPerCluster: Field{0x38, 4},
	ParentPerGroup: Field{0x3C, 4}, ParentGroupSize: Field{0x40, 4},
}

// ClusterHeaderSize is H of vmfs.md "Resource files": a lock block, then
// the cluster metadata; 1024 bytes before VMFS6, two metadata blocks on
// VMFS6.
func ClusterHeaderSize(v6 bool, md int64) int64 {
	if v6 {
		return 2 * md
	}
	return 1024
}

// ClusterMetaOffset is where a cluster header's metadata starts, after
// its lock block: 512 before VMFS6, md on VMFS6.
func ClusterMetaOffset(v6 bool, md int64) int64 {
	if v6 {
		return md
	}
	return 512
}

// ClusterMeta5 is the metadata of a VMFS3/5 resource cluster (vmfs.md:
// "Cluster metadata"). In the bitmap a set bit is a free resource.
var ClusterMeta5 = struct{ Cluster, Total, Free, NextFree, Bitmap Field }{
	Cluster: Field{0x00, 4}, Total: Field{0x04, 4}, Free: Field{0x08, 4},
	NextFree: Field{0x0C, 4}, Bitmap: Field{0x10, 64},
}

// ClusterMeta6 is the metadata of a VMFS6 resource cluster (vmfs.md:
// "Cluster metadata").
var ClusterMeta6 = struct{ Signature, Cluster, Total, Free, Bitmap Field }{
	Signature: Field{0x10, 4}, Cluster: Field{0x18, 8}, Total: Field{0x20, 2},
	Free: Field{0x22, 2}, Bitmap: Field{0x80, 64},
}

// Res is the geometry of a resource file, as its header gives it (vmfs.md:
// "Resource files"): from GroupOffset, cluster groups of GroupSize bytes,
// each PerGroup cluster headers of HeaderSize bytes (ClusterHeaderSize)
// followed by the clusters' resources, PerCluster of ResSize bytes each.
type Res struct {
	PerCluster, PerGroup, GroupOffset, ResSize, GroupSize, HeaderSize int64
}

// MinGroupSize is the bytes a cluster group's headers and resources
// take: the group size a header must give at least (every sample gives
// exactly this).
func (g Res) MinGroupSize() int64 { return g.PerGroup*g.HeaderSize + g.PerGroup*g.PerCluster*g.ResSize }

// ClusterOffset is the file offset of cluster c's header. PerGroup must
// not be 0.
func (g Res) ClusterOffset(c int64) int64 {
	return g.GroupOffset + c/g.PerGroup*g.GroupSize + c%g.PerGroup*g.HeaderSize
}

// ResourceOffset is the file offset of resource r of cluster c. PerGroup
// must not be 0.
func (g Res) ResourceOffset(c, r int64) int64 {
	return g.GroupOffset + c/g.PerGroup*g.GroupSize + g.PerGroup*g.HeaderSize + c%g.PerGroup*g.PerCluster*g.ResSize + r*g.ResSize
}

// Package vmfstest builds VMFS5 and VMFS6 volumes from a declarative tree,
// as sparse image files, for tests, fixtures and demos.
//
// A Spec lists entries (files, directories, symlinks) with their content,
// which is either explicit bytes or a deterministic pseudo-random stream
// chosen by a seed and a length, so that a 300 GiB file costs no memory and,
// thin or with holes, little disk. Write lays the tree out the way ESXi
// does and returns a Result that says what any reader must find: every
// entry with its size, content hash, symlink target and addressing mode,
// and, through Result.Expected, the listing in exactly the format of the
// real samples' .expected files (../shared/testdata/real/README.md).
//
// The on-disk layout follows /work/shared/docs/vmfs-format.md (the
// "synthesizer checklist", §13); the independent readers debugvmfs
// (vmfs-tools, VMFS5) and debugvmfs6 (vmfs6-tools, VMFS6) settle what that
// document leaves open, and the tests of this package check every generated
// volume with them.
//
// # Layout written
//
// A partition (bare, or inside an MBR with type 0xFB or a GPT with the VMFS
// type GUID) carries the LVM device header at +1 MiB and the logical volume
// at +0x1100000. The volume starts with the FS descriptor (vol 0x200000),
// the heartbeat region (vol 0x300000) and then the system files, each a
// contiguous run of file blocks: .vh.sf (the first 4 MiB, VMFS6 7 MiB),
// .fdc.sf right after it (both readers bootstrap the root FD from there),
// the root directory, .fbb.sf, .pbc.sf, .sbc.sf, .pb2.sf, .sdd.sf and, on
// VMFS6, .jbc.sf. User data follows.
//
// Addressing, as ESXi picks it (Entry.Addressing forces another):
//   - resident (zla 0x10D1) up to 1024 bytes (VMFS5) or 3584 bytes (VMFS6);
//     VMFS5 symlinks use a sub-block, as on the real VMFS5 sample;
//   - one sub-block (zla 2) up to 8 KiB (VMFS5) or 64 KiB (VMFS6);
//   - direct file blocks (zla 1) up to 256 (VMFS5) or 320 (VMFS6) blocks;
//   - one level of pointer blocks: VMFS5 zla 3 (4 KiB PBs of 1024 u32,
//     256 GiB with 1 MiB blocks), VMFS6 zla 5 through .pb2.sf (64 KiB PBs of
//     8192 u64, 2.5 TiB);
//   - VMFS5 files past 256 GiB: double indirect (zla 0x10D0), which
//     vmfs-tools cannot read (the tests check those against the rules).
//
// Thin files leave every block that lies wholly in holes unallocated (a null
// pointer; all-null pointer blocks are not allocated either). Fragmented
// files get their blocks in reverse order with a free block between each
// two. Deleted entries keep their FD, pointer blocks and data, but their
// resources are free in the bitmaps and the directory no longer lists them:
// on VMFS5 the entry array is compacted and the stale 140-byte entry stays
// as slack past the directory's length; on VMFS6 the slot is zeroed and
// marked free, the FD keeping its parent FD for re-attachment.
package vmfstest

// Package ext reads ext2, ext3 and ext4 file systems, read-only, from an
// io.ReaderAt: a guestfs.FS (see vmfs/disk/guestfs for the contract).
//
// The layout, as the reader uses it: a superblock at byte 1024 (copies at
// the start of block groups 1, 3^n, 5^n, 7^n with sparse_super) gives the
// block size (1 KiB to 64 KiB), the blocks and inodes per group and the
// features; the group descriptors (32 bytes, or s_desc_size with 64bit)
// follow it, or with meta_bg lie at the start of each meta group, and
// locate each group's inode table and block bitmap. An inode (128 bytes
// or s_inode_size) holds mode, owner, size (64-bit), times (with
// nanoseconds and two epoch bits in the extra fields), links and, in its
// 60-byte i_block, one of: an ext2/3 block map (12 direct pointers, a
// single, double and triple indirect block; 0 is a hole), an ext4 extent
// tree (up to depth 5; unwritten extents read as zeros), inline data (the
// rest in the system.data attribute inside the inode), or a fast
// symbolic link's target. Directories are read as linear ones in every
// case: an htree's index blocks look like empty entries, so every leaf
// block is read and every name found, without the hash.
//
// Nothing on disk is trusted: the superblock's counts are checked against
// each other and the size of the reader; a file's map may not hold more
// runs or tree nodes than the file system has blocks, nor map a block
// twice, nor point past the end; directory walks leave out entries that
// would loop back to an ancestor; a damaged directory block is skipped
// with a warning. Errors are *ondisk.FormatError with the classes
// ErrNotExt, ErrCorrupt and ErrUnsupported, naming the structure ("ext4
// inode 12") and its byte offset. Metadata is read through a bounded
// cache (blockcache); file data straight from the reader, each run of
// contiguous blocks in one read.
//
// When the primary superblock is destroyed (zeroed, encrypted) the file
// system opens from the first intact backup copy, trying every block
// size with mke2fs's 8 blocks per bit of a block in a group, and the group
// descriptors that follow that copy; Warnings says so.
//
// With guestfs.Options.Deleted the reader also lists deleted inodes (a
// deletion time and no links):
//   - at their old path when a directory entry survives in the rec_len gap
//     of a live entry (deletion merges an entry into the one before it);
//   - otherwise in guestfs.OrphanDir, named by their inode number, when
//     they still hold something (a size, or a directory); those with
//     size 0 and no name are left out. That is what the ext4 driver leaves
//     of a file it deletes (tried on Linux 6.18, ext2/3/4 images): size 0,
//     the map zeroed and the directory entry wiped, so nothing to list.
//
// A deleted file reads through its map where the map survives (ext2, and
// files freed by debugfs or fsck); its Info.Lost counts the bytes of
// blocks the block bitmap shows in use again. ext3 and ext4 zero the map
// on deletion: such a file is listed with its size (when kept) and Lost
// equal to it, and reads as zeros. Finding the deleted inodes reads every
// inode table and directory once, on the first listing that needs them.
//
// A file system that was not unmounted cleanly (needs_recovery: the
// datastore died under the running guest) is read with its journal
// replayed in memory, never written: the internal journal (inode
// s_journal_inum, read through its own map) is walked as the kernel's
// recovery walks it (see journal.go for the jbd2 format): from s_start
// while the blocks carry the expected sequence numbers, around the end of
// the log, keeping each transaction whose commit block is found, stopping
// at the first block that fails its checksum (v1 crc32, v2/v3 crc32c),
// leaving out copies revoked by their own or a later transaction and
// copies whose own checksum fails, restoring escaped blocks' magic. Every
// read then goes through an overlay that maps each block the journal
// holds to its newest committed copy in the log: the superblock and group
// descriptors are read again through it, and metadata and file data
// (data=journal) alike. The overlay is a map of at most as many blocks
// as the log holds. Warnings says "journal replayed in memory: N
// transactions, M blocks" (M distinct blocks), where replay stopped early
// and why. A journal that cannot be read (a FormatError: a tag past the
// end of the file system in a committed transaction, an absurd revoke
// count, a damaged journal superblock), or that lies on an external
// device, leaves the file system read as it stands on disk, with a
// warning saying why. What ext4 does after replay at mount (the orphan
// list: inodes unlinked while open are freed, truncations finished) and
// fast-commit blocks are not applied.
//
// Not read: extended attributes other than inline data, encrypted names
// and contents (read as stored), compressed ext2 (never in the kernel),
// bigalloc clusters (blocks are read as blocks).
package ext

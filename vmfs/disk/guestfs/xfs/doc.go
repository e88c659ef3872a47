// Package xfs reads XFS file systems (version 4 and version 5 with
// checksums) read-only from an io.ReaderAt, as a guestfs.FS: the file
// systems of Linux guests (RHEL and its kin install on XFS).
//
// An XFS file system is cut into allocation groups (AGs) of sb_agblocks
// blocks; each starts with a copy of the superblock, then its free-space
// (AGF) and inode (AGI) headers. Numbers carry their place: a file-system
// block number is the AG number above sb_agblklog bits and the block in the
// AG below them, and an inode number adds sb_inopblog bits for the slot of
// the inode in its block, so an inode is found without an inode table.
//
// An inode (core v1, v2, or v3 on v5 file systems with a CRC and its own
// number) holds its data fork in one of three formats: local (a short-form
// directory or a symbolic link target inside the inode), extents (a list
// of 128-bit records: logical block, start block, count, an unwritten
// flag) or btree (a bmbt whose root lies in the inode and whose blocks,
// BMAP or BMA3 with a CRC, hold the same records). Directories are short
// form, or data blocks of names (block, leaf and node directories keep
// them below the 32 GiB logical offset where their hash index starts),
// with or without a file type in each entry. Symbolic links are local, or
// remote in blocks that carry a header on v5.
//
// What is read: every inode format, directories of every format, symbolic
// links, hard links (Info.Links, Info.ID is the inode number), sparse files
// (holes and unwritten extents read as zeros and are left out of
// AllocationMap), bigtime timestamps. When AG 0's superblock is destroyed,
// a copy at the head of a later AG is used, placed from a surviving AGF or
// from the size of the reader; as mkfs writes the copies before it makes
// the root directory, the root is then found by a scan of AG 0, and
// Warnings says both. A truncated image opens too (Warnings says how much
// is missing): what lies past its end fails with a FormatError. Warnings
// also passes on what the superblock says: a repair left unfinished
// (needsrepair), an mkfs that did not finish.
//
// Names are listed as they are on disk, except that a byte that is not
// part of valid UTF-8 (a name in a legacy encoding), and a '/' or NUL that
// only damage puts there, are written \xNN: io/fs paths are UTF-8. A name
// that damage gave to several entries of one directory names the first on
// disk; the others are listed as NAME~INODE. Entries that name their own
// directory or one above it (a loop) are left out of its listing.
//
// What is not: files on a realtime device (refused with ErrUnsupported),
// file systems with incompatible features newer than bigtime, nrext64,
// exchange-range and parent pointers (metadir: ErrUnsupported),
// extended attributes, quota and the log (a file system not cleanly
// unmounted is read as its blocks are, without replaying the log), and
// deleted files: XFS zeroes a freed inode's extents and unlinks its name,
// so Options.Deleted lists nothing more.
//
// Everything on disk is checked before use: magics, v5 checksums (a bad
// one is an *ondisk.FormatError of class ErrCorrupt, naming the structure
// and its byte offset), inode and block numbers against the AG geometry,
// extent lists sorted and inside the file system, btree depth and loops,
// directory entries inside their block. Memory is bounded by what is on
// disk: no more extent records are read than the inode counts, each btree
// block once, and a directory's blocks may not overlap.
package xfs

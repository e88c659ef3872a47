// Package guestfs is the contract every reader of a guest file system
// keeps: the file systems inside the virtual machines' disks (NTFS,
// ext2/3/4, XFS, FAT, exFAT), each read by a subpackage, read-only, from
// an io.ReaderAt (a partition, a logical volume, a whole disk), in user
// space and without a kernel driver. Package recover/guest puts them
// together into the tree below a disk (/p1, /lvm/VG/LV).
//
// Every reader:
//
//   - opens with Open(r io.ReaderAt, size int64, opts guestfs.Options)
//     and returns a type that implements FS: fs.ReadDirFS, fs.StatFS and
//     fs.ReadLinkFS, with paths as io/fs wants them ("." is the root);
//     names are those on disk; lookups are case-insensitive where the file
//     system is (FAT, exFAT, NTFS);
//   - returns files that implement io.ReaderAt and io.Seeker as well as
//     fs.File, so that export and preview read them at random; a sparse
//     file also implements allocmap.Mapper (its data ranges, the rest
//     reads as zeros);
//   - gives FileInfo.Sys() an *Info: which file system, live or deleted,
//     the inode (or MFT record, or first cluster), the number of names of
//     a hard-linked file (each name is listed), the stream of an NTFS
//     alternate data stream (listed beside its file as FILE:STREAM);
//   - with Options.Deleted, also lists deleted files whose metadata
//     survives: at their old path when their parent directory is known
//     (named NAME~deleted-ID when a live entry holds the name), otherwise
//     in OrphanDir at the root, as ID-NAME;
//   - trusts nothing on disk: every count, length, block and cluster
//     number is checked against the size of the reader, directory walks
//     end on loops, memory is bounded by what is listed rather than by
//     what a header claims, and errors are *ondisk.FormatError naming the
//     structure ("ext4 inode 12", "MFT record 5") and its byte offset in
//     the reader.
//
// A reader opens from a backup of its head where the file system keeps one
// (NTFS's backup boot sector at the end of the partition, ext's backup
// superblocks, XFS's secondary superblocks) when the primary is destroyed,
// and says so in Warnings.
package guestfs

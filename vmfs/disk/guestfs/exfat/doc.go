// Package exfat reads exFAT file systems, read-only, from an io.ReaderAt,
// and keeps the guestfs contract: Open(r, size, guestfs.Options) gives an
// io/fs.FS whose files are io.ReaderAt and io.Seeker, with a
// *guestfs.Info in Sys() (ID is the first cluster). It follows
// Microsoft's exFAT specification (revision 1.00); no Go library read
// exFAT from a reader when it was written.
//
// Layout: a boot region of 12 sectors (the boot sector with the volume's
// geometry, extended boot sectors, OEM parameters, and a sector of
// checksums over the rest) and its backup at sector 12; the FAT (two for
// TexFAT, VolumeFlags saying which is active); the cluster heap, numbered
// from 2. The root directory, at the cluster the boot sector names, holds
// the allocation bitmap (a bit a cluster), the up-case table (the upper
// case of every UTF-16 code unit, compressed by runs of identity) and the
// volume label. A file is a directory entry set: a File entry
// (attributes, times with their UTC offset), a Stream Extension (first
// cluster, DataLength, ValidDataLength, the NoFatChain flag of a file
// whose clusters are contiguous and absent from the FAT) and File Name
// entries of 15 code units each, all under one checksum. Bytes past
// ValidDataLength read as zeros.
//
// Names compare through the volume's up-case table, as exFAT does. When
// the main boot region fails its checksum, Open reads the backup and says
// so in Warnings; an entry set that fails its checksum is skipped with a
// warning.
//
// Deleted files (Options.Deleted): deleting clears the InUse bit of each
// entry of the set and frees the clusters in the bitmap; names, sizes and
// first clusters survive. A deleted set is listed while its first cluster
// is free: a NoFatChain file is read contiguously, another along its FAT
// chain when that is still whole and free, otherwise contiguously from
// its first cluster; bytes in clusters taken since count in Info.Lost.
//
// Nothing on disk is trusted: every cluster is checked against the heap,
// chains end on loops and at the length their size needs, a directory is
// read up to 64 MiB, the FAT and the bitmap are read in a bounded cache
// of pages, and errors are *ondisk.FormatError (class ErrNotExFAT or
// ErrCorrupt) with the byte offset they concern.
package exfat

// Package fat reads FAT12, FAT16 and FAT32 file systems, read-only, and
// keeps the guestfs contract: Open(r, size, guestfs.Options) gives an
// io/fs.FS whose files are io.ReaderAt and io.Seeker, with a
// *guestfs.Info in Sys() (ID is the first cluster). Guests keep FAT on EFI
// system partitions and data disks; ESXi keeps its bootbanks (boot.cfg,
// state.tgz, the VIB payloads) on FAT16 partitions, "VMWARE FAT16    " at
// byte 512 of the partition, which netcfg/bootbank reads through here.
//
// Layout: the boot sector holds the BIOS parameter block (bytes per sector
// at 11, sectors per cluster at 13, reserved sectors at 14, number of FATs
// at 16, root entries at 17, total sectors at 19 or 32, sectors per FAT at
// 22 or, for FAT32, at 36 with the root cluster at 44). Reserved sectors,
// then the FATs, then (FAT12/16) the fixed root directory, then the data
// clusters numbered from 2. The FAT type follows from the cluster count
// alone (< 4085 FAT12, < 65525 FAT16, else FAT32), as Microsoft specifies.
// Directories are arrays of 32-byte entries; long names are runs of
// attribute-0x0F entries before their short entry, checked by checksum. A
// FAT32 volume keeps a copy of its boot sector at sector 6: Open uses it
// when the first is destroyed; and when the first FAT lacks the media mark
// of its entry 0 (wiped, encrypted), the second FAT is read.
//
// Deleted files (Options.Deleted): deleting overwrites the first byte of
// each entry with 0xE5 and frees the chain in the FAT, so the first
// character of the short name is lost and the clusters are known only by
// the first one. The long-name entries keep their characters: the short
// name's checksum they carry finds the lost character back. Where no
// long name survives the lost character reads '_'. The content is taken
// as contiguous from the first cluster, as undelete tools do; a deleted
// file whose first cluster was taken again is not listed, and the bytes
// in clusters taken since count in Info.Lost. A deleted directory lists
// its first cluster.
//
// Names are matched case-insensitively, as FAT does. Nothing on disk is
// trusted: the FAT is bounded by the device size and MaxFATBytes, every
// cluster number is range-checked, chains are cut at the length the file
// size or the 2 MB directory limit allows and loops are detected, and
// errors are *ondisk.FormatError (class ErrNotFAT or ErrCorrupt) with the
// byte offset they concern.
package fat

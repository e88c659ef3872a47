// Package fat reads FAT12, FAT16 and FAT32 file systems, read-only, as an
// io/fs.FS. ESXi keeps its bootbanks (boot.cfg, state.tgz, the VIB
// payloads) on FAT16 partitions, "VMWARE FAT16    " at byte 512 of the
// partition; larger 7.x boot banks may be FAT32.
//
// Layout: the boot sector holds the BIOS parameter block (bytes per sector
// at 11, sectors per cluster at 13, reserved sectors at 14, number of FATs
// at 16, root entries at 17, total sectors at 19 or 32, sectors per FAT at
// 22 or, for FAT32, at 36 with the root cluster at 44). Reserved sectors,
// then the FATs, then (FAT12/16) the fixed root directory, then the data
// clusters numbered from 2. The FAT type follows from the cluster count
// alone (< 4085 FAT12, < 65525 FAT16, else FAT32), as Microsoft specifies.
// Directories are arrays of 32-byte entries; long names are runs of
// attribute-0x0F entries before their short entry, checked by checksum.
//
// Names are matched case-insensitively, as FAT does. Nothing on disk is
// trusted: the FAT is bounded by the device size, every cluster number is
// range-checked, chains are cut at the length the file size or the volume
// allows (so loops end), and errors carry the byte offset they concern.
package fat

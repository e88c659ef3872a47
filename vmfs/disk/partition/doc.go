// Package partition reads the partition table of a disk (MBR with extended
// partitions, or GPT with its backup copy) and recognises the file system at
// the start of a partition by its signature. When the table and the heads
// of the file systems are gone (ransomware encrypts the first megabytes of
// a disk), Search reads the whole disk and places each file system by the
// backup copies of its boot sector or superblock (search.go).
//
// A disk is an io.ReaderAt plus its size, so the same code reads a physical
// disk, a disk image, a VMDK virtual disk (package vmdk) or a guest disk
// inside a VMFS file. Each partition hands out its own io.SectionReader.
//
// MBR: sector 0 ends in 0x55 0xAA and holds four 16-byte entries at 0x1BE
// (status, CHS start, type, CHS end, u32 start LBA, u32 sector count). Types
// 0x05, 0x0F and 0x85 are extended partitions: a chain of EBRs, each with one
// logical partition (start relative to the EBR) and one link (start relative
// to the first extended partition). VMFS uses type 0xFB, vmkcore 0xFC. A
// single entry of type 0xEE is a protective MBR: the disk is GPT.
//
// GPT: the header "EFI PART" sits at LBA 1 (sector size 512 or 4096 — both
// are tried), with CRC32 over the header (field zeroed) and over the entry
// array. When the primary header or its entries fail their checks, the
// backup at the last LBA is used and a warning says so. Entry counts and
// sizes on disk are never trusted for allocations: the array is bounded to
// 1 MiB and must lie inside the disk.
//
// The type names follow VMware's partedUtil and the UEFI specification; the
// VMFS GUID is AA31E02A-400F-11DB-9590-000C2911D1B8.
package partition

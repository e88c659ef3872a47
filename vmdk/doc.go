// Package vmdk reads VMware virtual disks, read-only: every subformat a
// datastore or a hosted product can hold, snapshot chains included, as one
// io.ReaderAt plus a size and a map of the allocated ranges.
//
// A disk is a chain of links (base, then snapshot deltas); each link is one
// text descriptor and its extents, laid end to end. Open takes the newest
// link: a descriptor file, a single-file sparse disk with an embedded
// descriptor (monolithicSparse, streamOptimized), a bare sparse extent, or
// anything else, which is read as a raw disk (the "only -flat.vmdk
// survived" case; Info then carries a generated descriptor that makes the
// file a VMDK again).
//
// What an extent is comes from its type word and the magic of its file, not
// from createType, which is only reported:
//   - FLAT, VMFS: byte x of the extent is byte START*512+x of the file.
//   - SPARSE with "KDMV": hosted sparse, two-level grain directory (GD) and
//     grain tables (GT), redundant GD used when the primary is damaged,
//     zeroed-grain entries (GTE 1), and compressed grains with markers
//     (streamOptimized, all three layouts: VMware's footer at the end,
//     tables up front as open-vmdk writes, qemu's). Each grain is a zlib
//     stream whose LBA and Adler-32 are checked; in tolerant mode a stream
//     whose footer or tables are lost is rebuilt from its grain markers.
//   - VMFSSPARSE with "COWD": ESX sparse snapshot deltas, 4096-entry GTs.
//   - SESPARSE with 0xCAFEBABE: the VMFS6 snapshot default, 64-bit entries.
//   - ZERO: no file; VMFSRDM, VMFSRAW and device paths: the data lives on a
//     LUN, which reads fail with ErrDeviceBacked (zeros in tolerant mode).
//
// A grain absent from a delta is read from the parent, found through
// parentFileNameHint relative to the child; a CID mismatch is a warning.
// Grains a guest unmapped in an SESparse snapshot read as zeros, as VMware
// and qemu read them, or with Options.UnmappedFromParent from the parent.
// Renamed files (ransomware appends extensions) are found by what they
// are, with a warning (renamed.go): a parent missing under its hint is the
// one disk of the folder whose CID the child's parentCID names, and a
// missing extent is the one file named like it with a suffix, if large
// enough. Two candidates are an error naming both, never a guess.
// Extent names may not leave the descriptor's folder (ErrPathEscape);
// absolute ones are looked up by base name next to it, so a hostile
// descriptor can never point the tool at /etc or /dev.
//
// Every count and offset read from disk is checked against the size of the
// file before it sizes an allocation or a loop; tables and decoded grains
// live in bounded LRU caches, so memory stays flat whatever the disk size.
// Damage gives a *ondisk.FormatError with the file, structure and byte
// offset, of class ErrCorrupt or ErrUnsupported. In tolerant mode
// (Options.Tolerant) a missing extent or parent and every unreadable range
// read as zeros and are listed by Disk.Warnings.
//
// CopySparse writes any io.ReaderAt with an allocation map to an
// io.WriterAt, holes as holes, with one worker per CPU (vmfsrecover dump).
// Package vmdktest writes the COWD and SESparse files no installed tool
// writes, for tests here and elsewhere.
//
// The layout of each structure is documented next to the Go type that
// decodes it; docs/formats/vmdk.md describes every format in one place, and
// comments name its sections as (vmdk.md: "Section").
package vmdk

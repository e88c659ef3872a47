// Package vmfs reads VMware VMFS3, VMFS5 and VMFS6 volumes, strictly
// read-only, and presents each as an io/fs.FS.
//
// A volume is a stack of views over bytes, each a reader:
//
//   - devices (disks or partitions) carry an LVM header at +1 MiB that maps
//     physical extents (PEs) of one or more devices onto one logical volume
//     (lvm.go); a volume can span several devices, matched by LVM UUID;
//   - the logical volume holds the file-system descriptor at +2 MiB
//     (descriptor.go) and the heartbeat region, followed by the system
//     resource files: .fdc.sf (file descriptors), .sbc.sf (sub-blocks),
//     .pbc.sf and .pb2.sf (pointer blocks), .fbb.sf (file-block bitmap);
//     a resource is addressed by cluster and index inside its file
//     (resource.go, address.go);
//   - a file descriptor (fd.go) maps a file's bytes through direct, single-
//     or double-indirect pointers to file blocks, sub-blocks or large file
//     blocks, or holds them inline (resident);
//   - directories (dir.go) are flat arrays of 140-byte entries on VMFS3/5
//     and hashed block structures on VMFS6.
//
// Open resolves headers only; pointer blocks, descriptors and directories
// are read on demand through bounded caches. All arithmetic is 64-bit, and
// every count read from disk is bounded by what the volume can hold, so a
// hostile image gives an error, never a panic or a huge allocation.
//
// Strict by default: the first inconsistency is an error that names the
// structure and its offset (*ondisk.FormatError, of class ErrCorrupt). With
// Options.Tolerant, missing extents and unreadable ranges read as zeros and
// are recorded as anomalies instead.
//
// The on-disk layout is documented in docs/formats/vmfs.md; comments name
// its sections as (vmfs.md: "Section"). The offsets of every structure's
// fields are in package vmfs/layout, which the test-volume writer
// (vmfs/vmfstest) uses too; this package decodes through it.
package vmfs

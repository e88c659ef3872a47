// Package ondisk holds what every decoder of an on-disk format in the
// storage stack shares: FormatError, the one shape of "this structure, at
// this byte offset, is bad, and this is its class". Partition tables
// (vmfs/disk/partition), VMFS (vmfs) and VMDK (vmdk) all return it.
//
// It imports nothing of the project, so any layer can use it without
// pulling in the disk openers of vmfs/disk (SSH, NBD) or creating an
// import cycle with their tests.
package ondisk

// Package layout describes VMFS on-disk structures once, as tables of
// fields and offsets, for both the reader (package vmfs, and the deep scan
// in recover/deepscan) and the test-volume writer (vmfs/vmfstest), so
// that the two cannot drift apart. docs/formats/vmfs.md explains each
// structure; the section is named on each table.
//
// Here are the LVM structures (device header, volume descriptor, PE-table
// entry), the file-system descriptor, heartbeat and lock blocks,
// resource-file headers, their geometry (where a cluster or resource
// lies: Res) and cluster metadata, file descriptors (metadata, the slot's
// resident data area and pointer array, addressing modes and types),
// pointer blocks, FD and resource addresses, and directory entries and
// blocks of VMFS3/5 and VMFS6. A Field reads and writes one little-endian
// integer or byte array; TestTablesFit checks that no field of a table
// overlaps another or leaves its structure, the fuzz targets that fields
// and addresses round-trip, and TestRealSamples that the headers of the
// three real samples decode through the tables to what their README says.
//
// Tests that check the reader against the format keep their own values
// from the format document instead of these tables (vmfstest's own
// reader does), so that a wrong offset here cannot pass because both
// sides share it; the real samples and the independent readers
// (vmfs-tools) check these tables.
//
// It imports nothing of the project: vmfs's tests import vmfstest, so the
// writer cannot import vmfs itself.
package layout

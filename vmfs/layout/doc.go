// Package layout describes VMFS on-disk structures once, as tables of
// fields and offsets, for both the reader (package vmfs) and the
// test-volume writer (vmfs/vmfstest), so that the two cannot drift apart.
// docs/formats/vmfs.md explains each structure; the section is named on
// each table.
//
// It imports nothing of the project: vmfs's tests import vmfstest, so the
// writer cannot import vmfs itself.
//
// So far the LVM structures are here (device header, volume descriptor,
// PE-table entry); the file-system structures still name their offsets in
// both places.
package layout

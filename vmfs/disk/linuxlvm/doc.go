// Package linuxlvm reads Linux LVM2 volume groups, read-only and in user
// space, from the disks (or partitions) that hold their physical volumes:
// Find puts the groups together and each logical volume reads as an
// io.ReaderAt, as device-mapper would show it, without device-mapper.
// Package recover/guest lists the volumes below a guest disk as
// lvm/VG/LV.
//
// On disk, a physical volume (PV) starts with a label in one of its first
// four sectors ("LABELONE", type "LVM2 001", a CRC), followed by the PV
// header: the PV's UUID, its size, its data areas and its metadata areas.
// A metadata area starts with a header (magic " LVM2 x[5A%r0N*>", a CRC,
// the location of the current text) before a circular buffer holding the
// volume group's metadata as text, written anew with a higher seqno at
// every change. The text, in lvm.conf's grammar, describes the group: its
// extent size, its PVs (UUID, first extent, extent count) and its logical
// volumes (LVs) as segments of extents, each striped over one or more PVs
// (one stripe is a linear segment). Every PV of a group may hold a copy
// of the metadata; Find uses the newest copy it can read and says in
// Warnings where copies differ or were damaged. When every copy on a
// device is damaged (its area header wiped, its current text failing its
// CRC), the older texts left in the circular buffer are scanned and the
// newest that parses is used, with a warning that a later change may be
// lost.
//
// Snapshots are listed under the name the user gave them with their
// origin; the old content of the chunks changed since the snapshot lies in
// its exception store, in the kernel's dm-snapshot format, which the
// reader follows. Thin pools and thin volumes, RAID and mirror LVs,
// caches and VDO are listed with Unsupported set and refuse to read
// (ErrUnsupported). Ranges of a PV that was not given fail to read with
// ErrMissingPV naming the PV, or read as zeros through Tolerant.
//
// Why our own reader: no Go library reads LVM2 metadata from a reader;
// the ones there are drive the lvm command or device-mapper, which need
// root, a kernel driver and the group's disks attached as block devices.
//
// Nothing on disk is trusted: the label and the area header are checked
// by their CRCs, the text by its CRC and a bounded parser (size, nesting),
// every extent and stripe is checked against its PV, and errors are
// *ondisk.FormatError naming the structure (an offset, or the metadata
// line or LV).
package linuxlvm

// Package guest puts the inside of virtual disks below them: the guest's
// partitions, its LVM2 logical volumes and the file systems on them, as
// one io/fs.FS (Tree) that listing, preview, export and the wizard read
// like a datastore.
//
// The tree of one disk:
//
//	/p1 ... /pN        partitions, numbered as Linux numbers them: MBR
//	                   primaries 1-4, logical partitions from 5 (the
//	                   extended partition that holds them is not listed),
//	                   GPT entry index + 1
//	/lvm/VG/LV         LVM2 logical volumes found on the partitions or on
//	                   the whole disk
//
// and below each partition or logical volume the tree of its file system,
// opened on first use by the reader that the one table in readers.go names
// for what partition.DetectFS recognised. A disk without a partition table
// whose first sectors hold a file system has that file system's root as its
// root. A disk with neither (the table and heads destroyed, as ransomware
// does) is searched by partition.Search for file systems by their backup
// copies; what it finds is numbered p1..pN by position, and a warning says
// so. A file system no reader reads (Btrfs, ReFS, BitLocker, swap, VMFS
// inside a guest, or none recognised) is listed as a directory; reading it
// is an error (ErrNotReadable) that says which bytes of the disk to copy out for
// the file system's own tools, with the commands that do it for the
// SOURCE the person gave where the opener knows it (Disk.CopyOut,
// DatastoreOptions.SourceArgs). An LVM2 physical volume lists as an empty
// directory: its logical volumes are under /lvm. The directories the tree
// makes (disks, partitions, volume groups, logical volumes) take the time
// of the disk file they lie on, the newest of them for what spans several.
// IsDiskRoot and IsGroupDir tell these directories apart for front ends
// that show the layers as menus.
//
// Several disks (the VMDKs of one VM) make one directory per disk at the
// root, named after the disk with "@" appended (vm1.vmdk@/p1), and volume
// groups spanning them are assembled across all of them under /lvm.
//
// Every FileInfo's Sys() is an *Info: the layer the entry lies in
// ("partition p2 (Linux), ext4", "LV vg0/root, XFS") and, inside a file
// system, its state (live or deleted) and what the reader says of it.
//
// Datastore (datastore.go) puts a Tree below every VMDK of a datastore's
// fs.FS: the disk's descriptor NAME.vmdk gets a directory NAME.vmdk@
// beside it, so that one path reaches a file inside a VM's disk, safe in a
// shell without quoting: /vm1/vm1.vmdk@/p2/etc/hostname.
package guest

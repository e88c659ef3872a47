// Package source turns SOURCE arguments of the command line into opened,
// read-only disks, once, for the library packages below it, which take
// disks and never SOURCE strings: a VMDK (any subformat, with its extents
// and parents, through package vmdk), recognised by vmdk.IsVMDK, and
// anything else (a local image or block device, a file or device on an
// ssh:// host, an nbd:// export) as a raw disk of package disk; with a
// ddrescue map or as the members of a RAID set, a disk built on those.
// ForDiscover and ForDeepScan hand them to packages discover and deepscan.
//
// Nothing here ever opens a file for writing: every file is opened with
// os.O_RDONLY, and the returned Disk has no write method.
package source

// Package discover goes from opened disks to VMFS volumes: it finds the
// VMFS extents on each disk (partition tables, bare partitions, probes;
// vmfs.Find), groups extents of several disks into volumes by LVM UUID,
// and opens the one the user chose. The SOURCE arguments are opened above
// it (package source); the commands and the wizard share it.
package discover

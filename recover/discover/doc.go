// Package discover goes from SOURCE arguments to VMFS volumes: it opens
// each source read-only (package source), finds the VMFS extents on it
// (partition tables, bare partitions, probes; vmfs.Find), groups extents of
// several sources into volumes by LVM UUID, and opens the one the user
// chose. The commands and the wizard share it.
package discover

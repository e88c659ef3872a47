// Package deepscan recovers VMFS files when the normal path fails: lost
// partition tables, destroyed LVM headers or file-system descriptors,
// destroyed directories, deleted files, reformatted volumes, unreadable
// sectors.
//
// It works in two passes. Scan streams the whole source once, sequentially,
// and records every VMFS signature it meets (findings.go): LVM headers, file-
// system descriptors, lock blocks and heartbeats that record their own
// volume offset (each one a vote for where the volume starts), file
// descriptors, VMFS3/5 directory-entry runs, and VMDK descriptors and .vmx
// files by their text. Findings are saved to a scan file, so a later ls or
// export reuses them and an interrupted scan resumes where it stopped.
// Unreadable ranges are retried a bounded number of times, read as zeros
// and recorded.
//
// Rebuild turns findings into volumes: for each volume origin with enough
// evidence it opens the volume with vmfs.OpenRecovered (a replacement
// descriptor inferred from surviving system files when the real one is
// gone), lists what the intact tree still reaches, and then every found
// descriptor it does not reach: deleted files (their descriptor is free in
// the .fdc.sf bitmap, or a stale copy from an earlier format) at their old
// path when a directory entry still names them (otherwise named from what
// the files hold, names.go), orphans under
// /lost+found, and carved text files under /carved. Every entry carries
// its provenance, a confidence and the anomalies met (Finding).
//
// A volume whose LVM header says it spans several devices is rebuilt
// across the sources scanned together (ScanSources), assembled from their
// LVM headers by vmfs.Assemble; the bytes of a disk that was not scanned
// read as zeros, and every file with blocks there says which bytes
// (placement in rebuild.go).
//
// Memory is bounded by the metadata found, not by the size of the disk:
// the scan keeps two windows of the disk at a time (the one it examines,
// the next one being read).
package deepscan

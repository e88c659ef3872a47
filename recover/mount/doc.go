// Package mount serves an io/fs.FS (a VMFS volume, or the tree a deep scan
// rebuilt) through FUSE as a read-only file system, so that any program (a
// database's own recovery, grep, rsync, an antivirus) reads the recovered
// files where they are, without an export first.
//
// The tree is the one the fs.FS gives: directories from ReadDir, entries
// from Lstat, link targets from ReadLink, and file bytes from the opened
// file's io.ReaderAt (sequential reads with reopening for files that lack
// it). Sizes, modes, times, owners and link counts come from the
// FileInfo and, for VMFS files, from the descriptor (*vmfs.Attributes) it
// carries. Nothing changes once mounted, so the kernel may cache entries,
// attributes and pages for as long as it likes.
//
// Reads are up to 1 MiB. Bytes that lie as they are in one run of a local
// image (a VMFS file's blocks, disk.Backed) are answered from a read-only
// memory map of the image, so that the kernel copies them once, from its
// page cache of the image into the reader's buffer; others are read into
// a buffer first (a second copy: a third less throughput for cat of a
// large file from a warm cache). The maps show in the server's resident
// memory as the image's pages it has read, which are the page cache's and
// reclaimable like any. Files from Options.DirectFrom bytes (64 MiB) are
// read with direct I/O: every read of the program reaches the server and
// its bytes go into the program's buffer without the mount's page cache,
// whose pages cost as much as a copy (for cat of a 256 MiB file, about
// four times the rate of the page cache under load); smaller files go
// through the page cache, read ahead 1 MiB.
//
// The mount is read-only twice over: the kernel is told so ("ro"), and every
// operation that would change something answers EROFS should one reach the
// server anyway. Bytes a file could not give (a missing extent, a bad
// sector: the Warnings() of vmfs.File and deepscan.Finding) read as zeros,
// and Options.Warn hears of them once per file.
package mount

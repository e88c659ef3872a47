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
// Reads are up to 1 MiB. Files from Options.DirectFrom bytes (64 MiB) are
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

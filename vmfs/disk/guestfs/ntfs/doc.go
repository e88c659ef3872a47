// Package ntfs reads NTFS volumes, read-only, as a guestfs.FS: the
// directory tree from each directory's $I30 index, files with their
// alternate data streams (listed as FILE:STREAM), hard links under every
// name, symbolic links and junctions, and, on request, deleted MFT records
// whose data runs survive.
//
// The MFT records themselves (update sequence fixups, attribute headers,
// attribute lists, run lists) and LZNT1 decompression are decoded by
// Velociraptor's go-ntfs (www.velocidex.com/golang/go-ntfs/parser). The
// rest is ours, because the library's own readers are wrong where a
// recovery tool must be right (each case is kept as a test):
//
//   - the boot sector, so that a destroyed one is replaced by its backup
//     at the end of the volume, and the bootstrap of $MFT, so that a
//     destroyed first record is replaced by $MFTMirr;
//   - the data of a stream: the library drops a compression unit that
//     is fragmented or shares a sparse run with the next one (so later
//     bytes shift), stops joining attribute-list pieces after 20, and
//     does not zero-fill short LZNT1 chunks;
//   - the $I30 walk: the library reads every 4096 bytes of the index
//     allocation whether in use or not, and misses pieces after the first
//     of a directory whose index spans several records.
//
// Nothing on disk is trusted: run lists are checked against the volume's
// cluster count and the attribute's VCN range, sizes against the runs,
// attribute lists against a size bound, and every library call is made
// behind a recover that turns a panic into an *ondisk.FormatError naming
// the MFT record and its byte offset.
package ntfs

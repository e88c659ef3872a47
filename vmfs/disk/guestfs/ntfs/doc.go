// Package ntfs reads NTFS volumes, read-only, as a guestfs.FS: the
// directory tree from each directory's $I30 index, files with their
// alternate data streams (listed as FILE:STREAM), hard links under every
// name, symbolic links and junctions, and, on request, deleted MFT records
// whose data runs survive.
//
// What Windows shows is what is listed: the Win32 (or POSIX) name of a
// file, not its DOS 8.3 alias; NTFS's own files (records 0-15: $MFT,
// $Bitmap, $Extend...) are left out. Info.ID is the MFT record, Info.Links
// the number of names. A file's mode says directory, symbolic link or
// read-only. Symbolic links are reparse points (Windows symbolic links,
// junctions, WSL links) or, as ntfs-3g writes them, Interix system files;
// Stat and Open follow those whose target is relative, and a link to
// C:\... (which lies outside the volume) stands for itself. An
// EFS-encrypted file is listed, but opening it is ErrUnsupported, as is
// opening one whose data Windows keeps elsewhere (a reparse point of WOF
// compression, Data Deduplication, a cloud placeholder), rather than
// reading its stream's zeros as its content.
//
// With Options.Deleted, $MFT is read from end to end for records not in
// use that still name a file. Each is placed once: under its parent when
// the parent is live and its sequence number still the one the file's
// reference names, or under its deleted parent placed so; otherwise in the
// orphan directory. Info.Lost counts the bytes of its clusters that
// $Bitmap marks in use again, by a live file: a file whose clusters were
// reused and freed again reads other data without knowing it.
//
// Velociraptor's go-ntfs (www.velocidex.com/golang/go-ntfs/parser) decodes
// run lists and LZNT1 chunks. The rest is ours, because the library is
// wrong or slow where a recovery tool must be right (each case has its
// test):
//
//   - the boot sector, so that a destroyed one is replaced by its backup
//     at the end of the volume, and the bootstrap of $MFT, so that a
//     destroyed first record is replaced by $MFTMirr;
//   - the data of a stream: on the ntfs-3g images of the tests the
//     library's OpenStream reads wrong a compressed file whose unit is
//     stored uncompressed in two fragments (comp/rand.bin), a compressed
//     file with holes (comp/mixed.bin) and a file whose run list spans 29
//     records (holes.bin: it joins at most 21), which ntfscat reads right;
//   - the $I30 walk: the library reads every 4096 bytes of the index
//     allocation as an index block, in use or not, whatever the block
//     size, and only the first piece of an allocation that spans records;
//   - MFT records, their fixups and attribute headers: the library's
//     accessors read and allocate field by field (most of a listing's
//     time), and read on past a record's end marker into the slack, where
//     a reused record keeps old attributes;
//   - attribute lists: the library follows one of any size, one record
//     read per entry, and takes attributes from extension records that
//     belong to another file since (a deleted file's, reused).
//
// Nothing on disk is trusted: a directory is listed only under the parent
// its own $FILE_NAME names, so that an index entry pointing back up the
// tree cannot make it a loop; index blocks are read in order, not as a
// B-tree whose pointers could loop; run lists are checked against the
// volume's cluster count and the attribute's VCN range, sizes against the
// runs,
// attribute lists against a size bound and their extension records'
// base reference, and every library call is made behind a recover that
// turns a panic (FuzzDecompressUnit found one in LZNT1) into an
// *ondisk.FormatError naming the structure and its byte offset.
package ntfs

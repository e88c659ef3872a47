// Package blockcache keeps what was read from a disk in memory, in pages
// of a fixed size, so that what is read again (metadata: VMFS file
// descriptors and pointer blocks, VMDK grain tables; the scattered probes
// of a scan over a network link) costs no second read of the disk.
//
// A Pool is a bounded LRU of pages shared by the Readers made from it (the
// files of one SSH connection share one). A Reader is the io.ReaderAt of
// one disk or file through the pool: a read is rounded out to pages,
// those cached are copied out, the missing ones are fetched, neighbours
// together in one fetch of up to 1 MiB, and a page being fetched is
// waited for rather than fetched twice by concurrent readers. A failed
// fetch is not cached. The bound holds in bytes: a fetch buffer is the
// size of its run, and full-size ones are reused.
//
// What a Reader does beyond caching is chosen by Options: read-ahead for
// sequential readers over a slow link (up to 8 interleaved streams per
// reader, each with a window doubling up to Options.ReadAhead pages,
// fetched concurrently), skipping ranges known to read as zeros (an NBD
// server's block status), or sending large reads straight to the disk
// (Options.Bypass) so that streamed file data does not push the metadata
// out.
//
// New puts a cache of its own in front of any io.ReaderAt of known size.
package blockcache

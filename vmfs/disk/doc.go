// Package disk is the ground floor of the storage stack: it turns a SOURCE
// (a local image or block device, a file or device on a host reachable
// over SSH, an NBD export) into a Disk, and everything above (partition
// tables, VMFS volumes, VMDK virtual disks, the deep scan, netcfg) reads
// from a Disk and never from a SOURCE string.
//
// A Disk is an io.ReaderAt with a Size and a Close; it is read-only by
// construction (no write method, every file opened with os.O_RDONLY) and
// safe for concurrent ReadAt. What a disk knows about itself beyond its
// bytes is offered through optional interfaces, found by type assertion as
// io.WriterTo is: allocmap.Mapper says where its data is (SEEK_DATA on a
// local sparse image, the NBD server's block status), BadRanger which byte
// ranges are known to be unreadable (a ddrescue map, a failed RAID
// member), Transferrer how many bytes crossed a network link. Layers that
// give a disk (a RAID set, package vmfs/disk/raid) implement the same
// interfaces, so the layers above do not care where the bytes come from.
//
// Open takes a SOURCE: a local path, ssh://user@host[:port]/path (the file
// or device on that host, read over SFTP) or nbd:// and nbds:// (package
// remote). It reads the file as raw bytes: a VMDK is a format on top of a
// disk, and the layer above opens it (package vmdk reads it from the
// fs.FS that Locate returns, so a descriptor on a host finds its extents
// and parents on the same host). LocateOrOpen serves the layers that take
// either a path or a whole disk (netcfg reads a bootbank folder or a boot
// disk).
//
// Below Disk sit the pieces any disk has: partition tables (package
// partition), allocation maps (allocmap), the page cache that remote
// links read through and any slow disk can (blockcache, with the one LRU
// of decoded metadata that vmfs and vmdk share), and the remote transports
// (remote).
package disk

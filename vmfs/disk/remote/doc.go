// Package remote reads a SOURCE that lives on another machine, without
// copying it first: a disk, image or VMDK on a host reachable over SSH
// (ssh://user@host[:port]/path, read through SFTP), or a block export of
// an NBD server (nbd://host[:port]/export, e.g. qemu-nbd or nbdkit on a
// rescue system; nbds:// over TLS).
//
// Layers, from the wire up:
//
//   - nbdConn speaks the NBD protocol's fixed newstyle handshake (NBD_OPT_GO
//     with NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE, NBD_OPT_EXPORT_NAME as
//     the fallback for old servers) and its transmission phase, read-only:
//     NBD_CMD_READ requests carry a cookie, so many are in flight on one
//     connection; replies are simple or, when the server accepted
//     NBD_OPT_STRUCTURED_REPLY, structured (data, hole and error chunks, in
//     any order). Every length read off the wire is bounded before use.
//     nbds:// asks NBD_OPT_STARTTLS first and negotiates the rest over TLS
//     1.2+, checking that the server's certificate names the host and
//     chains to Options.NBDCA (or the system's roots); a refused
//     certificate fails at once, it is not a dropped link.
//   - When the server offers the base:allocation meta context, NBDDisk asks
//     NBD_CMD_BLOCK_STATUS where the export reads as zeros, a gigabyte
//     window at a time (nbdstatus.go), and never fetches those ranges: a
//     sparse image or thin LUN is scanned at the speed of its data, as a
//     local sparse file is. Any failure of that query only means "not
//     known", and the bytes are read.
//   - FS is an io/fs.FS over SFTP whose files implement io.ReaderAt, so
//     package vmdk opens a descriptor on the remote host and finds its
//     extents and parents there. Host keys are checked against known_hosts;
//     an unknown or changed key is refused with its SHA256 fingerprint unless
//     that exact fingerprint is accepted explicitly. Over a long link one
//     SSH connection carries several SFTP sessions (one per 2 ms of
//     measured round trip, up to 8) and reads go to each in turn: an SSH
//     channel moves at most its 2 MiB window per round trip (x/crypto/ssh
//     and OpenSSH alike), 40 MB/s over a 50 ms link with one session.
//   - Each remote file or export is read through a page cache (package
//     blockcache, pages of Options.ChunkSize):
//     reads are rounded to 128 KiB chunks; a sequential reader (up to 8
//     interleaved ones per file, such as export jobs) gets a read-ahead
//     window that doubles up to 256 chunks (32 MiB) fetched concurrently,
//     so a scan over a long link is limited by bandwidth instead of round
//     trips.
//     Neighbouring missing chunks go out as one fetch of up to 1 MiB, into
//     a reused buffer. The cache is bounded in bytes and shared by all
//     files of one connection; a failed fetch is not cached.
//   - A read that fails because the link dropped re-establishes the
//     connection (with bounded exponential backoff) and is retried; a link
//     that stays down for Options.RetryFor ends with ErrLinkDown naming the
//     host and the offset.
//
// What the servers do, as met in the tests (qemu-nbd 7.2, nbdkit 1.32,
// OpenSSH 9.2's internal-sftp):
//
//   - qemu-nbd rounds a raw export's size up to a multiple of 512 bytes (a
//     9441505-byte file exports as 9441792 bytes, the tail reading as
//     zeros); nbdkit's file plugin keeps the exact size.
//   - Both offer structured replies and base:allocation (from SEEK_DATA
//     on a file; a block device is all data); qemu-nbd answers the zero
//     runs of a sparse file with hole chunks, nbdkit sends the zeros.
//     qemu-nbd does not advertise NBD_FLAG_CAN_MULTI_CONN for a read-only
//     raw export, nbdkit does. qemu-nbd serves 1 MiB reads at about three
//     times the rate of 128 KiB ones. nbdkit --no-sr answers with simple
//     replies, and nbdkit -o speaks oldstyle, which is refused.
//   - OpenSSH's sftp-server answers a read with at most 255 KiB and
//     shortens longer ones; pkg/sftp continues a short read, so reads ask
//     for 255 KiB from OpenSSH servers (twice the throughput of the 32 KiB
//     every server must take) and 32 KiB from others.
//   - SFTP reports size 0 for a block device, and its fstat-based seek
//     gives no better: the size is found by binary search on where 1-byte
//     reads stop (about 2·log2(size) round trips, ~80 for 1 TB). A read
//     past the end of a device fails with SSH_FX_BAD_MESSAGE rather than
//     EOF: sftp-server seeks first, and Linux refuses that seek (EINVAL).
//   - sshd's per-connection processes leave its process group (setsid), so
//     killing sshd does not drop open sessions; the tests kill the tree.
//
// Nothing here writes to the remote side: SFTP files are opened with
// os.O_RDONLY and the NBD client never sends a write, trim or flush.
package remote

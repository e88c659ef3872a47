// Package raid reassembles a RAID array from its member disks into one
// disk: an io.ReaderAt with a Size, which every layer above (partition
// tables, VMFS, deep scan, export) reads as it reads any disk. Datastores
// mostly sit on hardware RAID; when the controller dies, the members are
// what is left.
//
// # Levels and layouts
//
// Data is cut into chunks (4 KiB to 1 MiB, a power of two) laid out in
// rows across the n members, from a data offset that is the same on every
// member (an md 1.1/1.2 superblock's data_offset; 0 for most hardware
// RAID):
//
//   - jbod (linear): the members one after the other.
//   - raid0: chunk c on member c mod n, row c div n.
//   - raid1: every member holds the whole array.
//   - raid10 "near 2" (n2, md's default and hardware RAID 10): chunk c's
//     two copies are device chunks 2c and 2c+1, counting device chunks row
//     by row (adjacent members, same offset; with an odd n a pair wraps to
//     the next row). "far 2" (f2): a raid0 over the first half of every
//     member, and again over the second half with chunk c one member
//     further on. "offset 2" (o2): the same row by row, each row of chunks
//     followed at once by its copy, one member further on. md's layout
//     field encodes them (near | far<<8 | offset<<16); a spec names them.
//   - raid5: each row holds n-1 data chunks and their XOR, P. The layout
//     says where P goes in row s and where the data resumes after it, as
//     Linux md's raid5_compute_sector computes it: left (P on member
//     n-1-(s mod n)) or right (P on member s mod n), asymmetric (data
//     fills the other members from member 0) or symmetric (data starts on
//     the member after P and wraps); parity-first and parity-last keep P
//     on one member (RAID 4).
//   - raid6: n-2 data chunks, P and Q per row. md places P as for RAID 5 and
//     Q on the member after it (asymmetric layouts wrap Q to member 0 when
//     P is last: "Q D D D P"); parity-first puts P, Q on members 0, 1,
//     parity-last on n-2, n-1. The ddf-zero-restart, ddf-N-restart and
//     ddf-N-continue layouts are md's names for the layouts of SNIA DDF
//     (PERC and other LSI controllers). The "-6" layouts (left-symmetric-6
//     and the others, md's numbers 16 to 20) keep Q on the last member
//     and lay P and the data over the others as the RAID 5 layout of the
//     same name does: md makes them when it turns a RAID 5 array into a
//     RAID 6 one by adding a member, without restriping.
//
// The Layout values are md's algorithm numbers, as in an md superblock.
//
// # Parity
//
// P is the XOR of the row's data chunks. Q is the Reed-Solomon syndrome
// Σ g^k·D_k in GF(2^8) with the polynomial 0x11d and the generator g = 2,
// as md computes it: k numbers the data chunks starting from the member
// after Q and going round (skipping P and Q), so for the asymmetric
// layouts k is not the data index; for the DDF layouts k is the member's
// slot. Parity and every rebuild are computed by
// github.com/klauspost/reedsolomon (SIMD, GFNI where the CPU has it) with
// a coding matrix of md's parity rows: the same field, so the same bytes.
//
// A missing member (nil in New) or a range whose read fails is rebuilt
// from the rest of its row: from P when only one data chunk of the row is
// unknown, from Q when P is unknown too, from P and Q when two data
// chunks are (RAID 6 survives any two members); a rebuild reads only the
// parity it needs. Mirrors read the other
// copy. Stats counts reconstructed bytes and covered read errors;
// CheckParity recomputes parity over a range and lists the rows that
// disagree, also counted in Stats. A range that cannot be rebuilt fails
// with ErrUnrecoverable wrapping the member's error.
//
// # Specs
//
// A Spec writes an array as text, for the command line and for the small
// file that detection writes and the user may edit:
//
//	raid5:left-symmetric:64k:offset=0:a.img,b.img,missing,d.img
//
// Parts left out are for detection to find.
//
// # Detection
//
// Metadata first: Linux md superblocks (0.90 at the end of the member,
// 1.0 at the end, 1.1 at 0, 1.2 at 4 KiB) give level, layout, chunk, data
// offset and each member's slot; SNIA DDF anchor headers are searched in
// the last megabytes of each member (a PERC writes its DDF well before the
// last sector). Without metadata, Detect searches levels, member orders,
// chunk sizes, layouts and data offsets, and scores each candidate by what
// must hold on the assembled disk: a partition table at its start, VMFS
// LVM header and file-system descriptor where the partition puts them,
// heartbeat slots that name their own address, parity that checks out.
// A RAID 5 reading whose parity only ever copies a lone data chunk earns
// nothing for it: that is a mirror's signature (RAID 10 short of a member
// reads as RAID 5 over its survivors while every member reads, but would
// rebuild an unreadable range from the copy as if it were parity).
// Callers add their own Scorers. Detection reads a bounded sample of each
// member through a cache, never whole disks.
package raid

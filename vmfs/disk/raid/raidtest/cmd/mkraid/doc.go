// Command mkraid stripes a disk image over the member images of a RAID
// array, with package raidtest (written from the md documentation,
// independently of the reader), for demos and manual tests of --raid.
//
// Usage:
//
//	mkraid -level raid5 -layout left-symmetric -chunk 64k -members 4 -out DIR IMAGE
//
// It writes DIR/m0.img ... DIR/m(N-1).img, sparse where the image's chunks
// are all zeros, and prints their paths in slot order. `make demo` runs it
// on the sample datastore, removes a member and reads the rest, shuffled,
// with --raid auto.
package main

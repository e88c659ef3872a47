package fat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/fat/fattest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/guestfstest"
)

// manyLargeDirs is a FAT16 volume whose root holds dirs directories of
// the largest size a directory may have: each has a cluster of its own
// (16 entries D<i>F<j>) followed by one chain of clusters they all share
// (entries S<k>.TXT), cross-linked as a damaged or crafted volume may be.
// It returns the volume and the names each directory lists.
func manyLargeDirs(t *testing.T, dirs int) ([]byte, func(i int) []string) {
	img, err := fattest.FAT16(16<<20, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(bytes.NewReader(img), int64(len(img)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := int(f.clusterSize)
	shared := maxDirBytes / cs // clusters in the shared chain
	const sharedFirst, ownFirst = 100, 8000
	le := binary.LittleEndian
	fatBytes := int64(le.Uint16(img[22:])) * 512
	link := func(c, next uint32) {
		for i := int64(0); i < int64(img[16]); i++ {
			le.PutUint16(img[f.fatOff+i*fatBytes+int64(c)*2:], uint16(next))
		}
	}
	short := func(b []byte, name, ext string, attr byte, cluster uint32) {
		copy(b[0:8], fmt.Sprintf("%-8s", name))
		copy(b[8:11], fmt.Sprintf("%-3s", ext))
		b[11] = attr
		le.PutUint16(b[26:], uint16(cluster))
	}
	for k := 0; k < shared; k++ {
		c := uint32(sharedFirst + k)
		next := c + 1
		if k == shared-1 {
			next = 0xFFFF
		}
		link(c, next)
		cl := img[f.clusterOff(c):][:cs]
		for j := 0; j < cs/32; j++ {
			short(cl[j*32:], fmt.Sprintf("S%07d", k*cs/32+j), "TXT", 0x20, 0)
		}
	}
	for i := 0; i < dirs; i++ {
		c := uint32(ownFirst + i)
		link(c, sharedFirst)
		cl := img[f.clusterOff(c):][:cs]
		for j := 0; j < cs/32; j++ {
			short(cl[j*32:], fmt.Sprintf("D%03dF%03d", i, j), "", 0x20, 0)
		}
		short(img[f.rootOff+int64(i)*32:], fmt.Sprintf("DIR%05d", i), "", 0x10, c)
	}
	names := func(i int) []string {
		var out []string
		for j := 0; j < cs/32; j++ {
			out = append(out, fmt.Sprintf("D%03dF%03d", i, j))
		}
		for k := 0; k < shared*cs/32; k++ {
			out = append(out, fmt.Sprintf("S%07d.TXT", k))
		}
		return out
	}
	return img, names
}

// Listing many of the largest directories keeps no more of them decoded
// than the cache's weight allows (by count alone, 24 of 65,552 entries
// stayed: 157 MiB), and each lists what it holds, read again when dropped.
func TestManyLargeDirs(t *testing.T) {
	const dirs = 24
	img, names := manyLargeDirs(t, dirs)
	v, err := Open(bytes.NewReader(img), int64(len(img)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, dirs)
	for i := range paths {
		paths[i] = fmt.Sprintf("DIR%05d", i)
	}
	guestfstest.CheckManyLargeDirs(t, v, paths, names, 2*cachedListBytes)
}

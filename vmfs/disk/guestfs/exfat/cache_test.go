package exfat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/guestfstest"
)

// putSet writes at b a File entry set (File, Stream, one Name entry) for
// a name of up to 15 ASCII characters, with its SetChecksum.
func putSet(b []byte, name string, attr uint16, first uint32, size int64) {
	le := binary.LittleEndian
	set := b[:96]
	clear(set)
	set[0], set[1] = typeFile, 2
	le.PutUint16(set[4:], attr)
	st := set[32:64]
	st[0], st[1], st[3] = typeStream, 3, byte(len(name)) // AllocationPossible, NoFatChain
	le.PutUint64(st[8:], uint64(size))
	le.PutUint32(st[20:], first)
	le.PutUint64(st[24:], uint64(size))
	set[64] = typeFileName
	for i, c := range name {
		le.PutUint16(set[66+2*i:], uint16(c))
	}
	var sum uint16
	for i, c := range set {
		if i != 2 && i != 3 {
			sum = (sum>>1 | sum<<15) + uint16(c)
		}
	}
	le.PutUint16(set[2:], sum)
}

// manyLargeDirs is the sample with its root holding dirs directories of
// 4 MiB each, contiguous and overlapping as a damaged or crafted volume
// may have them: directory i is clusters first+i to first+i+1023 of one
// run whose every cluster holds 42 sets, named n<k> in order. It returns
// the volume and the names each directory lists.
func manyLargeDirs(t *testing.T, dirs int) ([]byte, func(i int) []string) {
	data := sample(t)
	f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const first, dirClusters = 480, 1024
	cs := int(f.clusterSize)
	perCluster := cs / 96
	cluster := func(c int) []byte { return data[f.heapOff+int64(c-2)*int64(cs):][:cs] }
	if first+dirClusters+dirs > int(f.clusters)+2 {
		t.Fatalf("%d directories of %d clusters from %d pass the %d clusters of the sample", dirs, dirClusters, first, f.clusters)
	}
	for c := first; c < first+dirClusters+dirs; c++ {
		b := cluster(c)
		for j := 0; j < perCluster; j++ {
			putSet(b[j*96:], fmt.Sprintf("n%07d", (c-first)*perCluster+j), 0x20, 0, 0)
		}
		for j := perCluster * 96; j < cs; j += 32 {
			b[j] = typeStream &^ inUse // unused: neither the end nor a set
		}
	}
	root := cluster(int(f.rootCluster))
	const at = 96 // after the label, bitmap and up-case entries
	clear(root[at:])
	for i := 0; i < dirs; i++ {
		putSet(root[at+96*i:], fmt.Sprintf("DIR%05d", i), 0x10, uint32(first+i), dirClusters*int64(cs))
	}
	names := func(i int) []string {
		var out []string
		for k := i * perCluster; k < (i+dirClusters)*perCluster; k++ {
			out = append(out, fmt.Sprintf("n%07d", k))
		}
		return out
	}
	return data, names
}

// Listing many large directories keeps no more of them decoded than the
// cache's weight allows (by count alone, 24 of 43,008 entries stayed:
// 150 MiB), and each lists what it holds, read again when dropped.
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
	if w := v.Warnings(); len(w) > 0 {
		t.Errorf("warnings: %q", w)
	}
}

package deepscan

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

// FuzzScanAndRebuild scans an arbitrary small disk and rebuilds whatever
// it claims to hold: hostile descriptors, self-addressed locks pointing
// anywhere, directory runs, texts. It must never panic or hang.
func FuzzScanAndRebuild(f *testing.F) {
	seed := make([]byte, 64<<10)
	binary.LittleEndian.PutUint32(seed[0x1000:], lockFD)
	binary.LittleEndian.PutUint64(seed[0x1004:], 0x1000)
	binary.LittleEndian.PutUint32(seed[0x1200:], 0x00000004)
	binary.LittleEndian.PutUint32(seed[0x120C:], 2)
	binary.LittleEndian.PutUint64(seed[0x121C:], 1<<20)
	copy(seed[0x3000:], "# Disk DescriptorFile\nRW 8 VMFS \"x-flat.vmdk\"\n")
	binary.LittleEndian.PutUint32(seed[0x4000:], 2)
	binary.LittleEndian.PutUint32(seed[0x4004:], 4)
	copy(seed[0x400C:], ".")
	binary.LittleEndian.PutUint32(seed[0x4000+140:], 2)
	binary.LittleEndian.PutUint32(seed[0x4004+140:], 4)
	copy(seed[0x400C+140:], "..")
	f.Add(seed)
	f.Fuzz(func(t *testing.T, disk []byte) {
		// Repeat the input so that structures meet the volume offsets they
		// record, then scan and rebuild.
		img := bytes.Repeat(disk, max(1, (5<<20)/max(len(disk), 1)))
		r := bytes.NewReader(img)
		fd := New("fuzz", "fuzz", int64(len(img)))
		if err := Scan(context.Background(), r, fd, Options{}); err != nil {
			t.Fatal(err)
		}
		vols, _ := Rebuild(r, fd)
		for _, v := range vols {
			walkTree(v.Tree)
		}
	})
}

func walkTree(t *Tree) {
	var walk func(n *tnode, depth int)
	walk = func(n *tnode, depth int) {
		if depth > 300 {
			panic("tree deeper than maxTreeDepth")
		}
		if n.data != nil {
			buf := make([]byte, 4096)
			n.data.ReadAt(buf, 0)
			n.data.AllocationMap()
		}
		for _, c := range n.children {
			walk(c, depth+1)
		}
	}
	walk(t.root, 0)
}

package damage

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// guestDisk is a disk image whose content is far from random: an MBR and
// text-like data.
func guestDisk(size int) []byte {
	b := bytes.Repeat([]byte("guest file system block with ordinary content 0123456789\n"), size/57+1)[:size]
	b[510], b[511] = 0x55, 0xAA
	return b
}

func randomize(b []byte, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func TestRansomwareHeadTailAndChunks(t *testing.T) {
	const mib = 1 << 20
	disk := guestDisk(32 * mib)
	randomize(disk[:mib], 1)          // head
	randomize(disk[10*mib:11*mib], 2) // a chunk in the middle
	randomize(disk[31*mib:], 3)       // tail
	rep, err := Analyze(context.Background(), bytes.NewReader(disk), int64(len(disk)), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []allocmap.Range{{Off: 0, Len: mib}, {Off: 10 * mib, Len: mib}, {Off: 31 * mib, Len: mib}}
	if len(rep.Suspect) != len(want) {
		t.Fatalf("suspect ranges %+v, want %v", rep.Suspect, want)
	}
	for i, w := range want {
		if rep.Suspect[i].Off != w.Off || rep.Suspect[i].Len != w.Len {
			t.Errorf("range %d = %+v, want %v", i, rep.Suspect[i], w)
		}
	}
	if !rep.HeadDamaged {
		t.Error("head encryption not noticed")
	}
}

func TestCleanAndMostlyRandomDisks(t *testing.T) {
	disk := guestDisk(4 << 20)
	rep, _ := Analyze(context.Background(), bytes.NewReader(disk), int64(len(disk)), nil)
	if len(rep.Suspect) != 0 || rep.HeadDamaged {
		t.Fatalf("clean disk: %+v", rep)
	}
	randomize(disk, 4)
	rep, _ = Analyze(context.Background(), bytes.NewReader(disk), int64(len(disk)), nil)
	if len(rep.Suspect) != 0 || rep.RandomFrac < 0.99 {
		t.Fatalf("all-random disk: %+v", rep)
	}
	// Only allocated ranges are read.
	rep, _ = Analyze(context.Background(), bytes.NewReader(disk), int64(len(disk)), allocmap.Map{{Off: 1 << 20, Len: 1 << 20}})
	if rep.Examined != 1<<20 {
		t.Fatalf("examined %d bytes, want 1 MiB", rep.Examined)
	}
}

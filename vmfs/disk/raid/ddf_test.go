package raid_test

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid/raidtest"
)

// TestDDF writes DDF metadata on striped members, at the end of the disk
// and, as PERC controllers do, a megabyte before it; Detect assembles the
// members, handed over in reverse, from it.
func TestDDF(t *testing.T) {
	src := randomImage(8, 2<<20)
	for _, c := range []struct {
		c        config
		prl, rlq byte
		fromEnd  int64
	}{
		{config{raid.RAID6, raid.DDFNContinue, 64 << 10, 5, 0}, 6, 3, 0},
		{config{raid.RAID5, raid.LeftAsymmetric, 4 << 10, 3, 0}, 5, 2, 1 << 20},
		{config{raid.RAID6, raid.DDFZeroRestart, 16 << 10, 4, 0}, 6, 1, 3 << 20},
	} {
		t.Run(c.c.String(), func(t *testing.T) {
			g := c.c.striper()
			g.Tail = 8 << 20
			paths, err := raidtest.Stripe(bytesReaderAt(src), int64(len(src)), g, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(paths[0])
			data := st.Size() - g.Tail
			shift := byte(0)
			for 512<<shift < c.c.chunk {
				shift++
			}
			for i, p := range paths {
				if err := raidtest.WriteDDF(p, raidtest.DDF{PRL: c.prl, RLQ: c.rlq, StripShift: shift, Members: c.c.members, Slot: i,
					Blocks: data / 512, FromEnd: c.fromEnd}); err != nil {
					t.Fatal(err)
				}
			}
			ms := openMembers(t, paths)
			d, err := raid.ReadDDF(ms[1], ms[1].Size())
			if err != nil {
				t.Fatal(err)
			}
			if !d.CRCOK || d.Slot != 1 || d.Members != c.c.members || d.Chunk != c.c.chunk || d.Size != data {
				t.Fatalf("DDF %+v", d)
			}
			rev := make([]raid.Member, len(ms))
			for i := range ms {
				rev[len(ms)-1-i] = ms[i]
			}
			det, err := raid.Detect(rev, raid.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]int, len(ms))
			for i := range want {
				want[i] = len(ms) - 1 - i
			}
			if det.From != "DDF" || det.Candidates[0].Geometry != (raid.Geometry{Level: c.c.level, Layout: c.c.layout, Chunk: c.c.chunk, Size: data}) ||
				!reflect.DeepEqual(det.Candidates[0].Order, want) {
				t.Fatalf("detected %s %+v", det.From, det.Candidates[0])
			}
			a, err := det.Assemble(rev)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, a, src)
		})
	}
}

func FuzzDDF(f *testing.F) {
	dir := f.TempDir()
	p := dir + "/m.img"
	os.WriteFile(p, nil, 0o600)
	os.Truncate(p, 1<<20)
	raidtest.WriteDDF(p, raidtest.DDF{PRL: 6, RLQ: 3, StripShift: 7, Members: 4, Slot: 2, Blocks: 1024})
	b, _ := os.ReadFile(p)
	f.Add(b[len(b)-40<<10:])
	f.Fuzz(func(t *testing.T, tail []byte) {
		d, err := raid.ReadDDF(bytesReaderAt(tail), int64(len(tail)))
		if err != nil {
			return
		}
		if d.Members < 1 || d.Members > 256 || d.Slot >= d.Members || d.Chunk < 512 {
			t.Fatalf("unchecked DDF %+v", d)
		}
	})
}

func bytesReaderAt(b []byte) *bytes.Reader { return bytes.NewReader(b) }

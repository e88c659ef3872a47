package raid_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid/raidtest"
)

// TestDDF writes DDF metadata on striped members, at the end of the disk
// and, as PERC controllers do, a megabyte before it, in 512-byte blocks and
// in 4 KiB ones as on 4Kn disks; Detect assembles the members, handed
// over in reverse, from it.
func TestDDF(t *testing.T) {
	src := randomImage(8, 2<<20)
	for _, c := range []struct {
		c        config
		prl, rlq byte
		fromEnd  int64
		block    int64
	}{
		{config{raid.RAID6, raid.DDFNContinue, 64 << 10, 5, 0}, 6, 3, 0, 512},
		{config{raid.RAID5, raid.LeftAsymmetric, 4 << 10, 3, 0}, 5, 2, 1 << 20, 512},
		{config{raid.RAID6, raid.DDFZeroRestart, 16 << 10, 4, 0}, 6, 1, 3 << 20, 512},
		// A PERC on 4Kn disks counts everything in 4 KiB blocks.
		{config{raid.RAID5, raid.LeftSymmetric, 64 << 10, 4, 0}, 5, 3, 1 << 20, 4096},
	} {
		t.Run(fmt.Sprint(c.c, "-block", c.block), func(t *testing.T) {
			g := c.c.striper()
			g.Tail = 8 << 20
			paths, err := raidtest.Stripe(bytesReaderAt(src), int64(len(src)), g, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(paths[0])
			data := st.Size() - g.Tail
			shift := byte(0)
			for c.block<<shift < c.c.chunk {
				shift++
			}
			for i, p := range paths {
				if err := raidtest.WriteDDF(p, raidtest.DDF{PRL: c.prl, RLQ: c.rlq, StripShift: shift, Members: c.c.members, Slot: i,
					Blocks: data / c.block, FromEnd: c.fromEnd, BlockSize: c.block}); err != nil {
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

// TestDDFMdadmExamine has mdadm read the DDF metadata raidtest writes, as
// a second reader: it must find no CRC error and report the geometry
// written, and our reader must agree. mdadm sums DDF structures with
// CRC-32 run from a zero register and not inverted (its zlib crc32 has
// both inversions commented out) and refuses the standard CRC-32 that
// FreeBSD's graid and dmraid write; ReadDDF takes both.
func TestDDFMdadmExamine(t *testing.T) {
	mdadm := testenv.Tool(t, "mdadm")
	for _, c := range []struct {
		prl, rlq, shift byte
		members, slot   int
		standard        bool
		level, chunk    string
	}{
		{5, 2, 7, 3, 1, false, "RAID5", "128 sectors"},
		{6, 3, 4, 5, 4, false, "RAID6", "16 sectors"},
		{0, 0, 11, 2, 0, false, "RAID0", "2048 sectors"},
		{5, 3, 7, 4, 2, true, "", ""},
	} {
		name := fmt.Sprintf("prl%d-rlq%d-%dm", c.prl, c.rlq, c.members)
		if c.standard {
			name += "-standard-sum"
		}
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "member.img")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			// mdadm takes no DDF disk under 32 MiB; the image is sparse.
			if err := os.Truncate(p, 64<<20); err != nil {
				t.Fatal(err)
			}
			const blocks = 100000
			if err := raidtest.WriteDDF(p, raidtest.DDF{PRL: c.prl, RLQ: c.rlq, StripShift: c.shift, Members: c.members, Slot: c.slot,
				Blocks: blocks, StandardCRC: c.standard}); err != nil {
				t.Fatal(err)
			}
			ms := openMembers(t, []string{p})
			d, err := raid.ReadDDF(ms[0], ms[0].Size())
			if err != nil {
				t.Fatal(err)
			}
			if !d.CRCOK || d.Slot != c.slot || d.Members != c.members || d.Chunk != 512<<c.shift || d.Size != blocks*512 {
				t.Fatalf("ReadDDF: %+v", d)
			}
			out, _ := exec.Command(mdadm, "--examine", "--metadata=ddf", p).CombinedOutput()
			if c.standard {
				if !strings.Contains(string(out), "bad CRC on anchor") {
					t.Fatalf("mdadm took a standard CRC-32:\n%s", out)
				}
				return
			}
			for _, want := range []string{
				"Magic : de11de11",
				fmt.Sprintf("Raid Devices[0] : %d ", c.members),
				"Raid Level[0] : " + c.level,
				"Chunk Size[0] : " + c.chunk,
				fmt.Sprintf("Device Size[0] : %d", blocks/2),
				fmt.Sprintf("%08x", 0x10000+c.slot),
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("mdadm --examine says no %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), "bad CRC") {
				t.Errorf("mdadm --examine:\n%s", out)
			}
		})
	}
}

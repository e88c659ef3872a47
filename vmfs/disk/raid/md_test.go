package raid_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid/raidtest"
)

// TestMDSuper writes superblocks of every version and reads them back;
// mdadm --examine, where installed, must read the same geometry.
func TestMDSuper(t *testing.T) {
	_, haveMdadm := testenv.LookTool(t, "mdadm")
	for _, v := range []string{"0.90", "1.0", "1.1", "1.2"} {
		t.Run(v, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "m.img")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Truncate(p, 20<<20+12345)
			off := int64(1 << 20)
			if v == "0.90" || v == "1.0" {
				off = 0
			}
			want := raidtest.MDSuper{Version: v, Level: 6, Layout: 1, Chunk: 128 << 10, Members: 5, Slot: 3, DataOffset: off, DataSize: 16 << 20}
			if err := raidtest.WriteMDSuper(p, want); err != nil {
				t.Fatal(err)
			}
			m := openMembers(t, []string{p})[0]
			sb, err := raid.ReadMDSuper(m, m.Size())
			if err != nil {
				t.Fatal(err)
			}
			if sb.Version != v || !sb.ChecksumOK || sb.Slot != 3 || sb.Members != 5 || sb.Level != raid.RAID6 ||
				sb.Layout != raid.RightAsymmetric || sb.Chunk != 128<<10 || sb.Offset != off || sb.Size != 16<<20 {
				t.Fatalf("read %+v", sb)
			}
			if !haveMdadm {
				return
			}
			out, _ := exec.Command("mdadm", "--examine", p).CombinedOutput()
			for _, s := range []string{"Raid Level : raid6", "Layout : right-asymmetric", "Chunk Size : 128K", "Raid Devices : 5"} {
				if !strings.Contains(string(out), s) {
					t.Errorf("mdadm --examine does not say %q:\n%s", s, out)
				}
			}
		})
	}
}

func FuzzMDSuper(f *testing.F) {
	dir := f.TempDir()
	for _, v := range []string{"0.90", "1.2"} {
		p := filepath.Join(dir, v)
		os.WriteFile(p, nil, 0o600)
		os.Truncate(p, 1<<20)
		raidtest.WriteMDSuper(p, raidtest.MDSuper{Version: v, Level: 5, Layout: 2, Chunk: 65536, Members: 4, Slot: 1, DataSize: 512 << 10})
		b, _ := os.ReadFile(p)
		if v == "1.2" {
			f.Add(b[4096:8192], int64(4096))
		} else {
			f.Add(b[len(b)-128<<10:][:4096], int64(len(b)-128<<10))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, at int64) {
		sb, err := raid.ParseMDSuper(b, at)
		if err != nil {
			return
		}
		if sb.Members < 1 || sb.Members > 256 || sb.Slot >= sb.Members {
			t.Fatalf("unchecked superblock %+v", sb)
		}
		g := sb.Geometry()
		ms := make([]raid.Member, sb.Members)
		raid.New(g, ms) // must not panic on whatever the superblock says
	})
}

// stripeMD stripes src over member images with g and writes sb on each,
// with its slot, and the geometry's member count, chunk and data offset;
// a DataSize of 0 becomes all of a member past the offset.
func stripeMD(t *testing.T, src []byte, g raidtest.Geometry, sb raidtest.MDSuper) []string {
	t.Helper()
	paths, err := raidtest.Stripe(bytes.NewReader(src), int64(len(src)), g, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	sb.Members, sb.Chunk, sb.DataOffset = g.Members, g.Chunk, g.Offset
	if sb.DataSize == 0 {
		sb.DataSize = st.Size() - g.Offset
	}
	for slot, p := range paths {
		sb.Slot = slot
		if err := raidtest.WriteMDSuper(p, sb); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// TestLinearMDSuperAtEnd assembles a linear array whose members carry md
// 0.90 or 1.0 superblocks after their data, given in shuffled order: each
// member adds only its data (0.90: up to the superblock; 1.0: data_size),
// so the later members' bytes land where they belong.
func TestLinearMDSuperAtEnd(t *testing.T) {
	const members, per = 3, 1 << 20 // per is a multiple of 64 KiB
	src := randomImage(21, members*per)
	for _, v := range []string{"0.90", "1.0"} {
		t.Run(v, func(t *testing.T) {
			paths := stripeMD(t, src, raidtest.Geometry{Level: "linear", Members: members, Tail: 64 << 10},
				raidtest.MDSuper{Version: v, Level: -1, Members: members, DataSize: per, UUID: [16]byte{7}})
			ms := openMembers(t, []string{paths[2], paths[0], paths[1]})
			d, err := raid.Detect(ms, raid.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := d.Assemble(ms)
			if err != nil {
				t.Fatal(err)
			}
			if a.Size() != int64(len(src)) {
				t.Fatalf("size %d, want %d", a.Size(), len(src))
			}
			got := make([]byte, len(src))
			if _, err := a.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("linear md %s: the assembled bytes differ from the source", v)
			}
		})
	}
}

// TestRAID10LayoutsFromMD reads md 1.2 RAID 10 members in the near, far
// and offset layouts, with one member gone: the superblock's layout field
// says which, and the bytes come back from the surviving copies.
func TestRAID10LayoutsFromMD(t *testing.T) {
	src := randomImage(31, 3<<20)
	for _, c := range []struct {
		layout raid.Layout
		name   string
	}{{raid.Near2, "n2"}, {raid.Far2, "f2"}, {raid.Offset2, "o2"}} {
		t.Run(c.name, func(t *testing.T) {
			const off = 1 << 20
			paths := stripeMD(t, src, raidtest.Geometry{Level: "raid10", Layout: c.name, Chunk: 64 << 10, Members: 4, Offset: off},
				raidtest.MDSuper{Version: "1.2", Level: 10, Layout: int(c.layout), UUID: [16]byte{10}})
			if _, ok := testenv.LookTool(t, "mdadm"); ok {
				out, _ := exec.Command("mdadm", "--examine", paths[0]).CombinedOutput()
				want := map[string]string{"n2": "Layout : near=2", "f2": "Layout : far=2", "o2": "Layout : offset=2"}[c.name]
				if !strings.Contains(string(out), want) {
					t.Errorf("mdadm --examine does not say %q:\n%s", want, out)
				}
			}
			ms := openMembers(t, []string{paths[3], paths[0], paths[2]}) // member 1 is gone
			d, err := raid.Detect(ms, raid.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Candidates[0].Geometry.Layout; got != c.layout {
				t.Errorf("layout %s from the superblock, want %s", got, c.layout)
			}
			a, err := d.Assemble(ms)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, a, src)
		})
	}
}

// TestRAID6QLastLayoutsFromMD reads RAID 6 members in md's "-6" layouts
// (Q on the last member) through their md 1.2 superblocks, two members
// gone: the superblock's layout number (16 to 20) names the layout, as
// mdadm --examine reads it too.
func TestRAID6QLastLayoutsFromMD(t *testing.T) {
	src := randomImage(41, 2<<20+999)
	_, haveMdadm := testenv.LookTool(t, "mdadm")
	for _, layout := range []raid.Layout{raid.LeftAsymmetric6, raid.RightAsymmetric6, raid.LeftSymmetric6, raid.RightSymmetric6, raid.ParityFirst6} {
		t.Run(layout.String(), func(t *testing.T) {
			const off, members = 1 << 20, 5
			paths := stripeMD(t, src, raidtest.Geometry{Level: "raid6", Layout: layout.String(), Chunk: 16 << 10, Members: members, Offset: off},
				raidtest.MDSuper{Version: "1.2", Level: 6, Layout: int(layout), UUID: [16]byte{6}})
			if haveMdadm {
				out, _ := exec.Command("mdadm", "--examine", paths[0]).CombinedOutput()
				if want := "Layout : " + layout.String(); !strings.Contains(string(out), want) {
					t.Errorf("mdadm --examine does not say %q:\n%s", want, out)
				}
			}
			ms := openMembers(t, []string{paths[4], paths[2], paths[0]}) // members 1 and 3 are gone
			d, err := raid.Detect(ms, raid.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Candidates[0].Geometry; got.Level != raid.RAID6 || got.Layout != layout {
				t.Errorf("geometry %+v from the superblock, want raid6 %s", got, layout)
			}
			a, err := d.Assemble(ms)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, a, src)
			if a.Stats().Reconstructed == 0 {
				t.Error("nothing reconstructed with two members gone")
			}
		})
	}
}

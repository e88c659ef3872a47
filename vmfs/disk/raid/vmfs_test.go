package raid_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// datastore writes a small generated VMFS datastore image (GPT or MBR).
func datastore(t *testing.T, version int, table string) (*vmfstest.Result, *os.File, int64) {
	t.Helper()
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "ds.img"), vmfstest.Spec{
		Version: version, Label: "raid", Partition: table, Seed: 17,
		Files: []vmfstest.Entry{
			{Path: "vm/vm.vmx", Data: []byte("displayName = \"vm\"\n")},
			{Path: "vm/vm-flat.vmdk", Size: 9<<20 + 333, Seed: 1},
			{Path: "vm/thin-flat.vmdk", Size: 12 << 20, Seed: 2, Thin: true, Holes: []vmfstest.Range{{Off: 1 << 20, Len: 8 << 20}}},
			{Path: "frag.bin", Size: 3<<20 + 1, Seed: 3, Fragmented: true},
			{Path: "small.txt", Size: 5000, Seed: 4},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return res, f, st.Size()
}

// checkVolume opens the VMFS volume on the assembled disk through its
// partition table and compares every file's sha256 with the generator's.
func checkVolume(t *testing.T, a *raid.Array, res *vmfstest.Result) {
	t.Helper()
	if err := volumeMatches(a, res); err != nil {
		t.Fatal(err)
	}
}

func volumeMatches(a *raid.Array, res *vmfstest.Result) error {
	tab, err := partition.Read(a, a.Size())
	if err != nil {
		return err
	}
	var part *partition.Partition
	for i := range tab.Partitions {
		if tab.Partitions[i].IsVMFS() {
			part = &tab.Partitions[i]
		}
	}
	if part == nil || part.Start != res.PartitionOffset {
		return fmt.Errorf("no VMFS partition at %#x in %+v", res.PartitionOffset, tab)
	}
	vol, err := vmfs.Open([]vmfs.Device{part.Section(a)}, vmfs.Options{})
	if err != nil {
		return err
	}
	files := 0
	for _, e := range res.Entries {
		if e.Kind != vmfstest.File || e.System {
			continue
		}
		want, err := e.SHA256()
		if err != nil {
			return err
		}
		f, err := vol.Open(e.Path[1:])
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return fmt.Errorf("%s: sha256 %s, want %s", e.Path, got, want)
		}
		files++
	}
	if files < 5 {
		return fmt.Errorf("only %d files checked", files)
	}
	return nil
}

// TestDatastoreThroughArray stripes a generated datastore over members
// with the independent striper, hands the members over shuffled (and, for
// the degraded cases, one or two short), lets Detect find the geometry
// untold, and reads every file back exactly.
func TestDatastoreThroughArray(t *testing.T) {
	type tc struct {
		c       config
		version int
		table   string
		drop    []int
	}
	cases := []tc{
		{config{raid.RAID5, raid.LeftSymmetric, 64 << 10, 4, 0}, 6, "gpt", []int{2}},
		{config{raid.RAID5, raid.RightAsymmetric, 4 << 10, 3, 0}, 5, "mbr", nil},
		{config{raid.RAID6, raid.LeftAsymmetric, 128 << 10, 5, 0}, 6, "gpt", []int{0, 3}},
		{config{raid.RAID0, raid.LayoutUnknown, 1 << 20, 3, 0}, 6, "gpt", nil},
		{config{raid.RAID10, raid.Near2, 64 << 10, 4, 0}, 5, "gpt", []int{1}},
		{config{raid.RAID10, raid.Far2, 64 << 10, 4, 0}, 6, "gpt", []int{3}},
		{config{raid.RAID10, raid.Offset2, 32 << 10, 3, 0}, 6, "mbr", nil},
		{config{raid.RAID5, raid.LeftAsymmetric, 256 << 10, 5, 1 << 20}, 6, "mbr", nil},
	}
	if testing.Short() {
		t.Skip("heavy: stripes and searches 270 MiB datastores; make test runs it in its second, race-free pass")
	}
	detected := 0
	for i, k := range cases {
		t.Run(fmt.Sprint(k.c, "-vmfs", k.version, "-drop", k.drop), func(t *testing.T) {
			res, img, size := datastore(t, k.version, k.table)
			paths := build(t, k.c, imgBytes{img, size}.ReaderAt(), size)
			ms := openMembers(t, paths)
			// Pass the survivors in a shuffled order; remember where each slot went.
			var given []raid.Member
			var slotOf []int
			for s := range ms {
				if !contains(k.drop, s) {
					given, slotOf = append(given, ms[s]), append(slotOf, s)
				}
			}
			rand.New(rand.NewPCG(uint64(i), 9)).Shuffle(len(given), func(a, b int) {
				given[a], given[b] = given[b], given[a]
				slotOf[a], slotOf[b] = slotOf[b], slotOf[a]
			})
			d, err := raid.Detect(given, raid.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			best := d.Candidates[0]
			t.Logf("%s: best %+v %v (of %d candidates)", d.From, best.Geometry, best.Reasons, len(d.Candidates))
			wantOrder := make([]int, k.c.members)
			for s := range wantOrder {
				wantOrder[s] = -1
			}
			for gi, s := range slotOf {
				wantOrder[s] = gi
			}
			if best.Geometry != k.c.geometry() || !reflect.DeepEqual(best.Order, wantOrder) {
				t.Errorf("detected %+v order %v, want %+v order %v", best.Geometry, best.Order, k.c.geometry(), wantOrder)
			} else {
				detected++
			}
			a, err := d.Assemble(given)
			if err != nil {
				t.Fatal(err)
			}
			checkVolume(t, a, res)
		})
	}
	t.Logf("detection found the exact geometry and order in %d of %d cases", detected, len(cases))
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type imgBytes struct {
	f    *os.File
	size int64
}

func (b imgBytes) ReaderAt() io.ReaderAt { return b.f }

// TestDetectionMatrix measures how often Detect reads a shuffled datastore
// array exactly, over every layout and three chunk sizes of RAID 5 with one
// member missing (4 slots), RAID 6 with two missing (5 slots) and RAID 10
// with one missing (4 slots). It takes minutes: set
// VMFSRECOVER_RAID_MATRIX=1 to run it.
func TestDetectionMatrix(t *testing.T) {
	if os.Getenv("VMFSRECOVER_RAID_MATRIX") != "1" {
		t.Skip("set VMFSRECOVER_RAID_MATRIX=1 to measure detection over every layout and chunk size")
	}
	res, img, size := datastore(t, 6, "gpt")
	for _, lv := range []struct {
		level   raid.Level
		members int
		drop    []int
	}{{raid.RAID5, 4, []int{1}}, {raid.RAID6, 5, []int{1, 3}}, {raid.RAID10, 4, []int{2}}} {
		total, found, exact := 0, 0, 0
		for _, lay := range raid.Layouts(lv.level) {
			for _, ch := range []int64{4 << 10, 64 << 10, 1 << 20} {
				c := config{lv.level, lay, ch, lv.members, 0}
				paths := build(t, c, img, size)
				ms := openMembers(t, paths)
				// The survivors, last slot first.
				var given []raid.Member
				want := slices.Repeat([]int{-1}, lv.members)
				for s := lv.members - 1; s >= 0; s-- {
					if !contains(lv.drop, s) {
						want[s] = len(given)
						given = append(given, ms[s])
					}
				}
				total++
				read, same := detectOne(t, c, given, want, res)
				if read {
					found++
				}
				if same {
					exact++
				}
				for _, p := range paths {
					os.Remove(p)
				}
			}
		}
		t.Logf("%s short of %d: detection read the datastore exactly in %d of %d cases (the exact geometry and order in %d)",
			lv.level, len(lv.drop), found, total, exact)
	}
}

// detectOne detects the array of given untold and says whether it reads
// the datastore exactly, and whether it found c's geometry and the order
// want (RAID 4 with P first or last, or a RAID 6 short of its Q read as
// RAID 5, are other descriptions of the same bytes).
func detectOne(t *testing.T, c config, given []raid.Member, want []int, res *vmfstest.Result) (read, exact bool) {
	d, err := raid.Detect(given, raid.DetectOptions{})
	if err != nil {
		t.Logf("%s: %v", c, err)
		return false, false
	}
	best := d.Candidates[0]
	exact = best.Geometry == c.geometry() && reflect.DeepEqual(best.Order, want)
	if !exact {
		t.Logf("%s: detected %+v order %v, want order %v", c, best.Geometry, best.Order, want)
	}
	a, err := d.Assemble(given)
	if err == nil {
		err = volumeMatches(a, res)
	}
	if err != nil {
		t.Logf("%s: %v", c, err)
	}
	return err == nil, exact
}

// TestMirrorWithBadSectorsDetected: RAID 10 near 2 short of a member whose
// twin survives reads, while every member reads, the same as RAID 5 parity
// last over the three survivors (the lone twin's chunks as data, the
// mirrored pair as data and "parity" that copies it). Only the mirror is
// right: once the twins show bad sectors, the RAID 5 reading would rebuild
// a data chunk from its copy XOR the other member's chunk. Detection must
// pick the mirror, and the array it assembles must read every file exactly
// with each twin unreadable where the other reads.
func TestMirrorWithBadSectorsDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: stripes and searches a 270 MiB datastore")
	}
	res, img, size := datastore(t, 6, "gpt")
	for _, chunk := range []int64{4 << 10, 64 << 10} {
		c := config{raid.RAID10, raid.Near2, chunk, 4, 0}
		t.Run(c.String(), func(t *testing.T) {
			ms := openMembers(t, build(t, c, img, size))
			// Slot 2 lost; the survivors handed over last slot first, as
			// the detection matrix does.
			given := []raid.Member{ms[3], ms[1], ms[0]}
			d, err := raid.Detect(given, raid.DetectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			best := d.Candidates[0]
			if best.Geometry.Level != raid.RAID10 {
				t.Errorf("detected %+v order %v (%v), want RAID 10", best.Geometry, best.Order, best.Reasons)
			}
			// Each twin loses every other MiB past the first, the other
			// twin the MiBs between.
			var even, odd allocmap.Map
			for off := int64(1 << 20); off < ms[0].Size(); off += 2 << 20 {
				even = append(even, allocmap.Range{Off: off, Len: 1 << 20})
				odd = append(odd, allocmap.Range{Off: off + 1<<20, Len: 1 << 20})
			}
			bad := []raid.Member{ms[3], mapped{ms[1], odd}, mapped{ms[0], even}}
			a, err := d.Assemble(bad)
			if err != nil {
				t.Fatal(err)
			}
			checkVolume(t, a, res)
			if a.Stats().ReadErrors == 0 {
				t.Error("no bad range was read around")
			}
		})
	}
}

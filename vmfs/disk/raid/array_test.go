package raid_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid/raidtest"
)

// fileMember is a member image opened read-only.
type fileMember struct{ *os.File }

func (f fileMember) Size() int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func openMembers(tb testing.TB, paths []string) []raid.Member {
	tb.Helper()
	ms := make([]raid.Member, len(paths))
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { f.Close() })
		ms[i] = fileMember{f}
	}
	return ms
}

// newArray assembles the members of c with those in drop missing.
func newArray(tb testing.TB, c config, ms []raid.Member, drop []int) *raid.Array {
	tb.Helper()
	for _, d := range drop {
		ms[d] = nil
	}
	a, err := raid.New(c.geometry(), ms)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// randomImage is size bytes of noise with some all-zero chunks, so that
// parity rows of zeros and of data both occur.
func randomImage(seed uint64, size int64) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < len(b); k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for off := int64(3 << 12); off+4096 <= size; off += 7 << 12 {
		clear(b[off : off+4096])
	}
	return b
}

type config struct {
	level   raid.Level
	layout  raid.Layout
	chunk   int64
	members int
	offset  int64
}

func (c config) String() string {
	return fmt.Sprintf("%s-%s-%d-%dm-off%d", c.level, c.layout, c.chunk, c.members, c.offset)
}

func (c config) geometry() raid.Geometry {
	return raid.Geometry{Level: c.level, Layout: c.layout, Chunk: c.chunk, Offset: c.offset}
}

func (c config) striper() raidtest.Geometry {
	g := raidtest.Geometry{Level: c.level.String(), Chunk: c.chunk, Members: c.members, Offset: c.offset}
	if g.Level == "jbod" {
		g.Level = "linear"
	}
	if c.level == raid.RAID10 {
		g.Layout = map[raid.Layout]string{raid.Near2: "n2", raid.Far2: "f2", raid.Offset2: "o2"}[c.layout]
	}
	if c.level == raid.RAID5 || c.level == raid.RAID6 {
		g.Layout = map[raid.Layout]string{raid.LeftAsymmetric: "left-asymmetric", raid.RightAsymmetric: "right-asymmetric",
			raid.LeftSymmetric: "left-symmetric", raid.RightSymmetric: "right-symmetric", raid.ParityFirst: "parity-first",
			raid.ParityLast: "parity-last", raid.DDFZeroRestart: "ddf-zero-restart", raid.DDFNRestart: "ddf-N-restart",
			raid.DDFNContinue: "ddf-N-continue", raid.LeftAsymmetric6: "left-asymmetric-6", raid.RightAsymmetric6: "right-asymmetric-6",
			raid.LeftSymmetric6: "left-symmetric-6", raid.RightSymmetric6: "right-symmetric-6", raid.ParityFirst6: "parity-first-6"}[c.layout]
	}
	return g
}

// buildBytes stripes src into member images with the independent striper.
func buildBytes(tb testing.TB, c config, src []byte) []string {
	return build(tb, c, bytes.NewReader(src), int64(len(src)))
}

func build(tb testing.TB, c config, src io.ReaderAt, size int64) []string {
	tb.Helper()
	paths, err := raidtest.Stripe(src, size, c.striper(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return paths
}

// readAll reads the array in uneven pieces and compares with want.
func compare(t *testing.T, a *raid.Array, want []byte) {
	t.Helper()
	if a.Size() < int64(len(want)) {
		t.Fatalf("array size %d < source %d", a.Size(), len(want))
	}
	got := make([]byte, len(want))
	step := 3*4096 + 1536
	for off := 0; off < len(want); off += step {
		n := min(step, len(want)-off)
		if _, err := a.ReadAt(got[off:off+n], int64(off)); err != nil {
			t.Fatalf("ReadAt %#x: %v", off, err)
		}
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("byte %#x differs: got %#x want %#x", i, got[i], want[i])
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func matrix(short bool) []config {
	var cs []config
	chunks := []int64{4 << 10, 64 << 10, 1 << 20}
	if short {
		chunks = []int64{16 << 10}
	}
	for _, ch := range chunks {
		for _, lay := range raid.Layouts(raid.RAID5) {
			cs = append(cs, config{raid.RAID5, lay, ch, 4, 0}, config{raid.RAID5, lay, ch, 3, 8 << 10})
		}
		for _, lay := range raid.Layouts(raid.RAID6) {
			cs = append(cs, config{raid.RAID6, lay, ch, 5, 0}, config{raid.RAID6, lay, ch, 4, 1 << 20})
		}
		cs = append(cs, config{raid.RAID0, raid.LayoutUnknown, ch, 3, 0}, config{raid.RAID10, raid.LayoutUnknown, ch, 4, 4096},
			config{raid.RAID10, raid.LayoutUnknown, ch, 3, 0})
		for _, lay := range []raid.Layout{raid.Far2, raid.Offset2} {
			cs = append(cs, config{raid.RAID10, lay, ch, 4, 4096}, config{raid.RAID10, lay, ch, 3, 0})
		}
	}
	return append(cs, config{raid.RAID1, raid.LayoutUnknown, 0, 2, 0}, config{raid.Linear, raid.LayoutUnknown, 0, 3, 4096})
}

// TestRoundTrip reads back what the independent striper wrote, for every
// level, layout and chunk size, with and without a data offset.
func TestRoundTrip(t *testing.T) {
	size := int64(6<<20 + 12345)
	if testing.Short() {
		size = 1<<20 + 12345
	}
	src := randomImage(1, size)
	for _, c := range matrix(testing.Short()) {
		t.Run(c.String(), func(t *testing.T) {
			a, err := raid.New(c.geometry(), openMembers(t, buildBytes(t, c, src)))
			if err != nil {
				t.Fatal(err)
			}
			compare(t, a, src)
			if s := a.Stats(); s.Reconstructed != 0 || s.ReadErrors != 0 {
				t.Errorf("healthy array: stats %+v", s)
			}
			if c.level == raid.RAID5 || c.level == raid.RAID6 {
				ms, err := a.CheckParity(0, a.Size())
				if err != nil || len(ms) != 0 {
					t.Errorf("CheckParity: %v %v", ms, err)
				}
			}
		})
	}
}

// TestDegraded drops members (RAID 5 one, RAID 6 any two, RAID 1 and 10
// one) and reads everything back from the redundancy.
func TestDegraded(t *testing.T) {
	size := int64(3<<20 + 777)
	if testing.Short() {
		size = 1<<20 + 777
	}
	src := randomImage(2, size)
	for _, c := range matrix(true) {
		if c.level == raid.RAID0 || c.level == raid.Linear {
			continue
		}
		paths := buildBytes(t, c, src)
		var drops [][]int
		for i := range c.members {
			drops = append(drops, []int{i})
			if c.level == raid.RAID6 {
				for k := i + 1; k < c.members; k++ {
					drops = append(drops, []int{i, k})
				}
			}
		}
		for _, drop := range drops {
			if c.level == raid.RAID10 && c.members == 4 && len(drop) > 1 {
				continue
			}
			t.Run(fmt.Sprint(c, drop), func(t *testing.T) {
				a := newArray(t, c, openMembers(t, paths), drop)
				compare(t, a, src)
				if drop[0] == 0 && c.layout != raid.ParityFirst && c.layout != raid.ParityFirst6 && a.Stats().Reconstructed == 0 {
					t.Error("nothing reconstructed")
				}
			})
		}
	}
}

// failing is a member whose reads fail inside [bad, bad+n).
type failing struct {
	raid.Member
	bad, n int64
}

var errBadSector = errors.New("bad sector")

func (f failing) ReadAt(p []byte, off int64) (int, error) {
	if off < f.bad+f.n && off+int64(len(p)) > f.bad {
		return 0, errBadSector
	}
	return f.Member.ReadAt(p, off)
}

// mapped is a member whose disk lists bad ranges and reads them as zeros,
// as vmfs/disk's BadRanger does.
type mapped struct {
	raid.Member
	bad allocmap.Map
}

func (m mapped) BadRanges() allocmap.Map { return m.bad }

func (m mapped) ReadAt(p []byte, off int64) (int, error) {
	n, err := m.Member.ReadAt(p, off)
	for _, r := range m.bad {
		lo, hi := max(r.Off, off), min(r.End(), off+int64(n))
		if lo < hi {
			clear(p[lo-off : hi-off])
		}
	}
	return n, err
}

// TestBadRanges: a member's listed bad ranges read as zeros on the member,
// but the array takes those bytes from the redundancy.
func TestBadRanges(t *testing.T) {
	src := randomImage(5, 1<<20)
	c := config{raid.RAID5, raid.RightSymmetric, 4 << 10, 3, 0}
	ms := openMembers(t, buildBytes(t, c, src))
	ms[2] = mapped{ms[2], allocmap.Map{{Off: 10000, Len: 5000}, {Off: 200 << 10, Len: 1}}}
	a, err := raid.New(c.geometry(), ms)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, a, src)
	if a.Stats().ReadErrors == 0 {
		t.Error("no bad range counted")
	}
}

// TestReadErrors makes ranges of members unreadable: each is read from the
// redundancy; with RAID 6, two members failing in the same rows too.
func TestReadErrors(t *testing.T) {
	src := randomImage(3, 2<<20)
	for _, c := range []config{
		{raid.RAID5, raid.LeftSymmetric, 64 << 10, 4, 0},
		{raid.RAID6, raid.RightAsymmetric, 4 << 10, 5, 4096},
		{raid.RAID6, raid.DDFNContinue, 4 << 10, 6, 0},
		{raid.RAID1, raid.LayoutUnknown, 0, 2, 0},
		{raid.RAID10, raid.LayoutUnknown, 64 << 10, 3, 0},
	} {
		t.Run(c.String(), func(t *testing.T) {
			ms := openMembers(t, buildBytes(t, c, src))
			ms[0] = failing{ms[0], c.offset + 100<<10, 200 << 10}
			if c.level == raid.RAID6 {
				ms[3] = failing{ms[3], c.offset + 150<<10, 300 << 10}
			}
			a, err := raid.New(c.geometry(), ms)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, a, src)
			if a.Stats().ReadErrors == 0 {
				t.Error("no read error counted")
			}
		})
	}
	t.Run("unrecoverable", func(t *testing.T) {
		c := config{raid.RAID5, raid.LeftSymmetric, 4 << 10, 3, 0}
		ms := openMembers(t, buildBytes(t, c, src))
		ms[0] = failing{ms[0], 0, 1 << 20}
		ms[1] = failing{ms[1], 0, 1 << 20}
		a, err := raid.New(c.geometry(), ms)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.ReadAt(make([]byte, 8192), 0)
		if !errors.Is(err, raid.ErrUnrecoverable) || !errors.Is(err, errBadSector) {
			t.Fatalf("got %v, want ErrUnrecoverable wrapping the read error", err)
		}
	})
}

// TestParityMismatch corrupts a data chunk and a P and a Q chunk: the
// check names the rows and the counter counts them.
func TestParityMismatch(t *testing.T) {
	src := randomImage(4, 1<<20)
	c := config{raid.RAID6, raid.LeftSymmetric, 4 << 10, 4, 0}
	paths := buildBytes(t, c, src)
	f, err := os.OpenFile(paths[2], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Rows 5 and 9 (chunk 4 KiB): member 2 holds something in every row.
	for _, r := range []int64{5, 9} {
		if _, err := f.WriteAt([]byte{0xff, 0x00, 0x55}, r*4096+100); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	a, err := raid.New(c.geometry(), openMembers(t, paths))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := a.CheckParity(0, a.Size())
	if err != nil {
		t.Fatal(err)
	}
	var rows []int64
	for _, m := range ms {
		rows = append(rows, m.Row)
		if m.Len != 8192 || m.Off != m.Row*8192 {
			t.Errorf("mismatch %+v: want the row's 8 KiB of array", m)
		}
	}
	if fmt.Sprint(rows) != "[5 9]" {
		t.Fatalf("mismatched rows %v, want [5 9]", rows)
	}
	if a.Stats().ParityMismatches != 2 {
		t.Fatalf("counter %d, want 2", a.Stats().ParityMismatches)
	}
	if _, err := io.ReadAll(io.NewSectionReader(a, 0, a.Size())); err != nil {
		t.Fatal(err)
	}
}

// counting is a member that counts the bytes read from it.
type counting struct {
	raid.Member
	n *atomic.Int64
}

func (c counting) ReadAt(p []byte, off int64) (int, error) {
	c.n.Add(int64(len(p)))
	return c.Member.ReadAt(p, off)
}

// TestRebuildReadsOnlyWhatItMust reads degraded arrays in whole rows: a
// rebuild takes only the parity it needs and the data the read already
// holds, so the members give exactly as many bytes as the array returns
// (RAID 5 short of one member, RAID 6 of two: every row is read as n-1,
// n-2 chunks whatever is lost).
func TestRebuildReadsOnlyWhatItMust(t *testing.T) {
	src := randomImage(9, 1<<20)
	for _, c := range []struct {
		config
		drop []int
	}{
		{config{raid.RAID5, raid.LeftSymmetric, 4 << 10, 4, 0}, []int{1}},
		{config{raid.RAID5, raid.RightAsymmetric, 16 << 10, 3, 0}, []int{2}},
		{config{raid.RAID6, raid.LeftSymmetric, 4 << 10, 6, 0}, []int{0, 3}},
		{config{raid.RAID6, raid.DDFNContinue, 8 << 10, 5, 0}, []int{1, 2}},
		{config{raid.RAID6, raid.RightSymmetric6, 4 << 10, 5, 0}, []int{4, 0}},
	} {
		t.Run(fmt.Sprint(c.config, c.drop), func(t *testing.T) {
			var read atomic.Int64
			ms := openMembers(t, buildBytes(t, c.config, src))
			for i := range ms {
				ms[i] = counting{ms[i], &read}
			}
			a := newArray(t, c.config, ms, c.drop)
			parity := map[raid.Level]int{raid.RAID5: 1, raid.RAID6: 2}[c.level]
			rowBytes := c.chunk * int64(c.members-parity)
			got := make([]byte, rowBytes*3)
			for off := int64(0); off+int64(len(got)) <= int64(len(src)); off += int64(len(got)) {
				before := read.Load()
				if _, err := a.ReadAt(got, off); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, src[off:off+int64(len(got))]) {
					t.Fatalf("rows at %#x differ", off)
				}
				if n := read.Load() - before; n != int64(len(got)) {
					t.Fatalf("reading %d bytes at %#x read %d from the members", len(got), off, n)
				}
			}
			if a.Stats().Reconstructed == 0 {
				t.Error("nothing reconstructed")
			}
		})
	}
}

// TestConcurrentSplitReads: large reads, which readSplit shares with its
// helpers, from many goroutines at once (more than there are helpers) on
// degraded arrays return the source's bytes; a bad sector in a part a
// helper reads fails that read, and the next reads still succeed.
func TestConcurrentSplitReads(t *testing.T) {
	const size = 12 << 20
	src := randomImage(5, size)
	for _, tc := range []struct {
		c    config
		drop []int
	}{
		{config{raid.RAID5, raid.LeftSymmetric, 64 << 10, 4, 0}, []int{2}},
		{config{raid.RAID6, raid.RightAsymmetric, 16 << 10, 5, 0}, []int{0, 3}},
	} {
		t.Run(fmt.Sprint(tc.c, tc.drop), func(t *testing.T) {
			a := newArray(t, tc.c, openMembers(t, buildBytes(t, tc.c, src)), tc.drop)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(g), 9))
					buf := make([]byte, 2<<20)
					for range 40 {
						n := 256<<10 + r.IntN(len(buf)-256<<10)
						off := r.Int64N(size - int64(n))
						if _, err := a.ReadAt(buf[:n], off); err != nil {
							errs <- fmt.Errorf("ReadAt %#x+%d: %w", off, n, err)
							return
						}
						if i := firstDiff(buf[:n], src[off:off+int64(n)]); i >= 0 {
							errs <- fmt.Errorf("ReadAt %#x+%d: byte %#x differs", off, n, off+int64(i))
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
	t.Run("error in a helper's part", func(t *testing.T) {
		c := config{raid.RAID5, raid.LeftSymmetric, 64 << 10, 4, 0}
		ms := openMembers(t, buildBytes(t, c, src))
		ms[1] = failing{Member: ms[1], bad: 53 * 64 << 10, n: 4096} // row 53: array bytes 9.9 MiB on, in a later part of the read at 4 MiB
		a := newArray(t, c, ms, []int{3})
		buf := make([]byte, 8<<20)
		for range 3 {
			if _, err := a.ReadAt(buf, 4<<20); !errors.Is(err, raid.ErrUnrecoverable) {
				t.Fatalf("read over a bad sector with a member missing: %v, want ErrUnrecoverable", err)
			}
			if _, err := a.ReadAt(buf, 0); err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(buf, src[:8<<20]); i >= 0 {
				t.Fatalf("byte %#x differs", i)
			}
		}
	})
}

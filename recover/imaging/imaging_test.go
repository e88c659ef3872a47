package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/mapfile"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// failingDisk reads data but fails every read that touches a bad sector;
// a sector in flaky fails that many reads, then reads. After stopAfter
// reads (when > 0) every read fails with stopErr.
type failingDisk struct {
	data      []byte
	bad       map[int64]bool // sector numbers
	flaky     map[int64]int
	reads     atomic.Int64
	stopAfter int64
	stopErr   error              // returned once stopAfter reads were made
	cancel    context.CancelFunc // when set, called then instead (Ctrl-C)
}

func (d *failingDisk) ReadAt(p []byte, off int64) (int, error) {
	if n := d.reads.Add(1); d.stopAfter > 0 && n > d.stopAfter {
		if d.cancel != nil {
			d.cancel()
			return 0, syscall.EINTR
		}
		return 0, d.stopErr
	}
	if off >= int64(len(d.data)) {
		return 0, errors.New("read past the end")
	}
	for s := off / 512; s*512 < off+int64(len(p)); s++ {
		if d.bad[s] {
			return 0, syscall.EIO
		}
		if d.flaky[s] > 0 {
			d.flaky[s]--
			return 0, syscall.EIO
		}
	}
	return copy(p, d.data[off:]), nil
}

// testDisk is 8 MiB of random data with zeroed areas (holes the image
// need not write) and bad sectors in clusters and alone.
func testDisk(t *testing.T) *failingDisk {
	data := make([]byte, 8<<20)
	rand.New(rand.NewSource(1)).Read(data)
	clear(data[3<<20 : 4<<20])
	bad := map[int64]bool{}
	for _, s := range []int64{100, 2048, 2049, 2050, 5000, 9001, 16383} {
		bad[s] = true
	}
	for s := int64(12000); s < 12040; s++ { // a 20 KiB bad area
		bad[s] = true
	}
	return &failingDisk{data: data, bad: bad, flaky: map[int64]int{}}
}

type fileOut struct{ *os.File }

func newImage(t *testing.T, size int64) (*os.File, string) {
	path := filepath.Join(t.TempDir(), "image")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, path
}

// check compares the image with the disk: every finished byte equal,
// every bad sector marked bad, nothing else lost.
func check(t *testing.T, d *failingDisk, img []byte, m *mapfile.Map) {
	t.Helper()
	var wantLost allocmap.Map
	for s := int64(0); s*512 < int64(len(d.data)); s++ {
		if d.bad[s] {
			wantLost = wantLost.Add(allocmap.Range{Off: s * 512, Len: 512})
		}
	}
	lost := m.Lost()
	if fmt.Sprint(lost) != fmt.Sprint(wantLost) {
		t.Errorf("lost %v, want the bad sectors %v", lost, wantLost)
	}
	if m.Total(mapfile.BadSector) != wantLost.Total() {
		t.Errorf("bad-sector bytes %d, want %d (statuses %+v)", m.Total(mapfile.BadSector), wantLost.Total(), m.Blocks)
	}
	want := bytes.Clone(d.data)
	for _, r := range wantLost {
		clear(want[r.Off:r.End()])
	}
	if !bytes.Equal(img, want) {
		t.Errorf("image differs from the disk outside the bad sectors")
	}
}

func TestRescueMarksExactlyTheBadSectors(t *testing.T) {
	d := testDisk(t)
	out, path := newImage(t, int64(len(d.data)))
	m := mapfile.New(int64(len(d.data)))
	saves := 0
	err := Run(context.Background(), d, int64(len(d.data)), out, m, func(*mapfile.Map) error { saves++; return nil }, Options{ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := os.ReadFile(path)
	check(t, d, img, m)
	if m.Phase != mapfile.Done || saves == 0 {
		t.Errorf("phase %c, %d saves", m.Phase, saves)
	}
	// The zeroed MiB was not written: the file has a hole there.
	if st, err := out.Stat(); err == nil {
		if blocks := st.Sys().(*syscall.Stat_t).Blocks * 512; blocks > int64(len(d.data))-(1<<20)+(64<<10) {
			t.Errorf("image takes %d bytes: the all-zero MiB was written", blocks)
		}
	}
}

// TestRescueResumes: a rescue interrupted again and again (a cancelled
// context, then a link that stays down) and resumed from its saved
// mapfile each time ends as one uninterrupted rescue does.
func TestRescueResumes(t *testing.T) {
	d := testDisk(t)
	size := int64(len(d.data))
	out, path := newImage(t, size)
	mapPath := filepath.Join(t.TempDir(), "map")
	save := func(m *mapfile.Map) error {
		var b bytes.Buffer
		if err := m.Write(&b, mapfile.Header{Program: "test"}); err != nil {
			return err
		}
		return os.WriteFile(mapPath, b.Bytes(), 0o644)
	}
	load := func() *mapfile.Map {
		f, err := os.Open(mapPath)
		if errors.Is(err, os.ErrNotExist) {
			return mapfile.New(size)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, err := mapfile.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	stops := []error{context.Canceled, fmt.Errorf("%w: host h", remote.ErrLinkDown)}
	for run := 0; run < 40; run++ {
		d.reads.Store(0)
		ctx, cancel := context.WithCancel(context.Background())
		d.stopAfter, d.stopErr, d.cancel = int64(7+run*3), stops[run%2], nil
		if run%2 == 0 {
			d.cancel = cancel
		}
		err := Run(ctx, d, size, out, load(), save, Options{ChunkSize: 64 << 10})
		cancel()
		if err == nil {
			img, _ := os.ReadFile(path)
			check(t, d, img, load())
			if run < 2 {
				t.Errorf("finished after %d runs: the interruptions did not interrupt", run+1)
			}
			return
		}
		if !errors.Is(err, stops[run%2]) {
			t.Fatalf("run %d stopped with %v, want %v", run, err, stops[run%2])
		}
	}
	t.Fatal("did not finish in 40 resumed runs")
}

func TestRescueRetriesFlakySectors(t *testing.T) {
	d := testDisk(t)
	d.bad = map[int64]bool{}
	d.flaky = map[int64]int{300: 3, 301: 1} // 301 reads at the scrape
	out, path := newImage(t, int64(len(d.data)))
	m := mapfile.New(int64(len(d.data)))
	nop := func(*mapfile.Map) error { return nil }
	if err := Run(context.Background(), d, int64(len(d.data)), out, m, nop, Options{Retries: 1}); err != nil {
		t.Fatal(err)
	}
	if m.Total(mapfile.BadSector) != 512 || m.At(300*512) != mapfile.BadSector {
		t.Fatalf("after one retry pass: %+v", m.Blocks)
	}
	if err := Run(context.Background(), d, int64(len(d.data)), out, m, nop, Options{Retries: 2}); err != nil {
		t.Fatal(err)
	}
	img, _ := os.ReadFile(path)
	check(t, d, img, m)
}

func TestRescueRejectsAMapOfAnotherSize(t *testing.T) {
	d := testDisk(t)
	out, _ := newImage(t, int64(len(d.data)))
	err := Run(context.Background(), d, int64(len(d.data)), out, mapfile.New(4096), func(*mapfile.Map) error { return nil }, Options{})
	if err == nil {
		t.Fatal("a mapfile of 4096 bytes was used for an 8 MiB disk")
	}
}

package vmfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	listingpkg "github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestHugeFile reads a 300 GiB thin file (VMFS5: double indirect past 256
// GiB; VMFS6: PB2) at its data ranges and checks the holes and the
// allocation map, where the older readers fail or read zeros.
func TestHugeFile(t *testing.T) {
	for _, v := range []int{5, 6} {
		res, err := vmfstest.Write(filepath.Join(t.TempDir(), "huge.img"), vmfstest.Spec{Version: v, Files: vmfstest.HugeEntries()})
		if err != nil {
			t.Fatal(err)
		}
		vol := openResult(t, res)
		want := res.Lookup("/huge/disk-flat.vmdk")
		f, err := vol.Open("huge/disk-flat.vmdk")
		if err != nil {
			t.Fatal(err)
		}
		file := f.(*File)
		if file.Size() != want.Size {
			t.Fatalf("VMFS%d: size %d, want %d", v, file.Size(), want.Size)
		}
		const mib = 1 << 20
		for _, off := range []int64{0, 5 * mib, 256<<30 - mib, 256 << 30, 256<<30 + mib/2, want.Size - mib} {
			got, exp := make([]byte, mib/2), make([]byte, mib/2)
			if _, err := file.ReadAt(got, off); err != nil && err != io.EOF {
				t.Fatalf("VMFS%d: ReadAt(%d): %v", v, off, err)
			}
			want.ReadAt(exp, off)
			if !bytes.Equal(got, exp) {
				t.Errorf("VMFS%d: bytes at %d differ", v, off)
			}
		}
		m, err := file.AllocationMap()
		if err != nil {
			t.Fatal(err)
		}
		var wantTotal int64
		for _, r := range want.Allocated {
			wantTotal += r.Len
		}
		if m.Total() != wantTotal {
			t.Errorf("VMFS%d: allocation map %v (%d bytes), want %v", v, m, m.Total(), want.Allocated)
		}
		if a := file.Attributes(); v == 5 && a.Addressing != "double indirect" {
			t.Errorf("VMFS5 huge file addressing %q", a.Addressing)
		}
	}
}

// countingDevice counts the bytes read from a device.
type countingDevice struct {
	Device
	reads, bytes atomic.Int64
}

func (d *countingDevice) ReadAt(p []byte, off int64) (int, error) {
	d.reads.Add(1)
	d.bytes.Add(int64(len(p)))
	return d.Device.ReadAt(p, off)
}

// hugeSpec is a datastore near the 64 TiB VMFS5/6 maximum, spanned over
// four devices (this machine's ext4 keeps files under 16 TiB): a few small
// files, a far file whose blocks are the volume's last ones (in the fourth
// extent) and a thin disk past 2 TiB with data around its 2 TiB mark and
// at its end, also allocated at the far end.
func hugeSpec(version int, size int64) vmfstest.Spec {
	const thin = 2<<40 + 40<<30 + 4321
	data := []vmfstest.Range{{Off: 0, Len: 1<<20 + 100}, {Off: 2<<40 - 1<<20, Len: 2 << 20}, {Off: thin - 3<<20, Len: 3 << 20}}
	var holes []vmfstest.Range
	for i, d := range data[1:] {
		end := data[i].Off + data[i].Len
		holes = append(holes, vmfstest.Range{Off: end, Len: d.Off - end})
	}
	return vmfstest.Spec{Version: version, Label: "huge", Size: size, Extents: 4, Files: []vmfstest.Entry{
		{Path: "readme.txt", Data: []byte("a datastore of 4 extents\n")},
		{Path: "vm1/vm1.vmx", Data: []byte("displayName = \"vm1\"\n")},
		{Path: "vm1/small.bin", Size: 40000, Seed: 11},
		{Path: "vm1/far.bin", Size: 8<<20 + 12345, Seed: 12, AtEnd: true},
		{Path: "vm1/thin-flat.vmdk", Size: thin, Seed: 13, Thin: true, Holes: holes, AtEnd: true},
		{Path: "vm1/vm1.vmdk", Kind: vmfstest.Symlink, Target: "thin-flat.vmdk"},
	}}
}

// TestHugeSpannedVolume opens VMFS6 (60 TiB) and VMFS5 (62 TiB) datastores
// of four extents, given in either order, lists them against the
// generator, and reads files whose blocks lie at the far end of the last
// extent, where tools with 32-bit offsets crash or read zeros. Open must
// read little and the heap stay small: nothing may scale with the volume.
func TestHugeSpannedVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: two 60 TiB sparse volumes, hashing about 1.5 GiB of system files; make test runs it in its second pass")
	}
	for _, c := range []struct {
		version int
		size    int64
	}{{6, 60 << 40}, {5, 62 << 40}} {
		t.Run(fmt.Sprintf("vmfs%d", c.version), func(t *testing.T) {
			start := time.Now()
			res, err := vmfstest.Write(filepath.Join(t.TempDir(), "huge.img"), hugeSpec(c.version, c.size))
			if err != nil {
				t.Fatal(err)
			}
			gen := time.Since(start)
			var apparent, onDisk int64
			for _, img := range res.Images {
				fi, err := os.Stat(img)
				if err != nil {
					t.Fatal(err)
				}
				apparent += fi.Size()
				onDisk += fi.Sys().(*syscall.Stat_t).Blocks * 512
			}
			if len(res.Images) != 4 || res.VolumeSize < c.size || apparent < c.size {
				t.Fatalf("%d images of %d bytes for a volume of %d, want 4 extents of at least %d", len(res.Images), apparent, res.VolumeSize, c.size)
			}
			t.Logf("generated %.1f TiB on 4 extents in %v: %d MiB on disk", float64(res.VolumeSize)/(1<<40), gen.Round(time.Millisecond), onDisk>>20)

			// In order, every file but the 2 TiB thin disk is hashed
			// (.fbb.sf and .pb2.sf are 0.5-1 GiB); in reverse order,
			// files up to 64 MiB: sha256 runs at 400 MB/s here.
			checkHugeVolume(t, res, res.Images, false, 4<<30)
			reversed := slices.Clone(res.Images)
			slices.Reverse(reversed)
			checkHugeVolume(t, res, reversed, true, 64<<20)
			checkFarExtentMissing(t, res)
		})
	}
}

// checkHugeVolume opens the volume on images and checks it, comparing
// the hashes of files up to hashLimit bytes.
func checkHugeVolume(t *testing.T, res *vmfstest.Result, images []string, reverse bool, hashLimit int64) {
	t.Helper()
	var devs []Device
	var counters []*countingDevice
	for _, img := range images {
		cd := &countingDevice{Device: openImage(t, img)}
		cands, _, err := Find(cd, cd.Size(), FindOptions{})
		if err != nil || len(cands) != 1 {
			t.Fatalf("Find on %s = %+v, %v; want one extent", img, cands, err)
		}
		counters = append(counters, cd)
		devs = append(devs, io.NewSectionReader(cd, cands[0].Offset, cands[0].Size))
	}
	for _, cd := range counters { // count what Open reads, not Find
		cd.reads.Store(0)
		cd.bytes.Store(0)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	vol, err := Open(devs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	openTime := time.Since(start)
	var openBytes, openReads int64
	for _, cd := range counters {
		openBytes += cd.bytes.Load()
		openReads += cd.reads.Load()
	}
	if vol.Size() != res.VolumeSize {
		t.Errorf("volume size %d, want %d", vol.Size(), res.VolumeSize)
	}
	// The listing, hashes aside, then every directory read once more.
	var lines []entryLine
	err = listingpkg.Walk(context.Background(), vol, ".", listingpkg.Options{Recursive: true}, func(e listingpkg.Entry, err error) error {
		lines = append(lines, entryLine{e})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("VMFS%d, extents given %s: Open read %d KiB in %d reads, took %v; heap after open and walk +%d KiB (%d KiB allocated in all)",
		res.Version, map[bool]string{false: "in order", true: "in reverse"}[reverse], openBytes>>10, openReads, openTime.Round(time.Microsecond), heap>>10, allocated>>10)
	// What Open reads does not grow with the volume: headers, the LVM PE
	// tables (8 MiB on a VMFS5 device of 15 TiB), descriptors.
	if openBytes > 64<<20 {
		t.Errorf("Open read %d MiB", openBytes>>20)
	}
	if heap > 64<<20 || allocated > 256<<20 {
		t.Errorf("heap grew by %d MiB after Open and a walk (%d MiB allocated)", heap>>20, allocated>>20)
	}
	runtime.KeepAlive(vol)

	// Compare with the generator; the thin disk's ranges are read below.
	var got, want strings.Builder
	for _, l := range lines {
		if l.Type == "file" && l.Size <= hashLimit {
			if l.SHA256, err = listingpkg.HashFile(vol, strings.TrimPrefix(l.Path, "/")); err != nil {
				t.Fatal(err)
			}
		}
		got.WriteString(l.line() + "\n")
	}
	for _, e := range res.Entries {
		line := fmt.Sprintf("f %d - %s", e.Size, e.Path)
		if e.Kind != vmfstest.File || e.Size <= hashLimit {
			if line, err = e.Line(); err != nil {
				t.Fatal(err)
			}
		}
		want.WriteString(line + "\n")
	}
	if got.String() != want.String() {
		t.Errorf("listing differs\n%s", diffLines(got.String(), want.String()))
	}

	thin := res.Lookup("/vm1/thin-flat.vmdk")
	f, err := vol.Open("vm1/thin-flat.vmdk")
	if err != nil {
		t.Fatal(err)
	}
	file := f.(*File)
	if file.Size() != thin.Size || file.Size() <= 2<<40 {
		t.Fatalf("thin disk of %d bytes, want %d (past 2 TiB)", file.Size(), thin.Size)
	}
	const mib = 1 << 20
	for _, off := range []int64{0, mib - 10, 1 << 30, 2<<40 - mib - 100, 2<<40 - 1, 2 << 40, thin.Size - 3*mib - 7, thin.Size - mib/2} {
		got, exp := make([]byte, mib), make([]byte, mib)
		n, err := file.ReadAt(got, off)
		if err != nil && err != io.EOF {
			t.Fatalf("thin disk: ReadAt(%#x): %v", off, err)
		}
		m, _ := thin.ReadAt(exp, off)
		if n != m || !bytes.Equal(got[:n], exp[:m]) {
			t.Errorf("thin disk: %d bytes at %#x differ from the %d intended", n, off, m)
		}
	}
	m, err := file.AllocationMap()
	if err != nil {
		t.Fatal(err)
	}
	var wantTotal int64
	for _, r := range thin.Allocated {
		wantTotal += r.Len
	}
	if m.Total() != wantTotal {
		t.Errorf("thin disk: allocation map %v (%d bytes), want %v", m, m.Total(), thin.Allocated)
	}
}

// checkFarExtentMissing shows that the far file's data lies in the
// fourth extent: without it, strict Open fails and tolerant Open lists
// everything but reads that file as zeros.
func checkFarExtentMissing(t *testing.T, res *vmfstest.Result) {
	t.Helper()
	var devs []Device
	for _, img := range res.Images[:3] {
		devs = append(devs, openImage(t, img))
	}
	if _, err := Open(devs, Options{}); !errors.Is(err, ErrExtentMissing) {
		t.Fatalf("Open without the fourth extent: %v, want ErrExtentMissing", err)
	}
	vol, err := Open(devs, Options{Tolerant: true})
	if err != nil {
		t.Fatal(err)
	}
	small, err := fs.ReadFile(vol, "vm1/small.bin")
	if want := res.Lookup("/vm1/small.bin"); err != nil || int64(len(small)) != want.Size {
		t.Fatalf("small.bin without the fourth extent: %d bytes, %v", len(small), err)
	}
	far, err := fs.ReadFile(vol, "vm1/far.bin")
	if err != nil || int64(len(far)) != res.Lookup("/vm1/far.bin").Size || !allocmap.IsZero(far) {
		t.Errorf("far.bin without the fourth extent: %d bytes, %v; want its size in zeros", len(far), err)
	}
}

// entryLine renders a listing entry as an .expected line.
type entryLine struct{ listingpkg.Entry }

func (l entryLine) line() string {
	if l.Type == "file" && l.SHA256 == "" {
		return fmt.Sprintf("f %d - %s", l.Size, l.Path)
	}
	return l.Expected()
}

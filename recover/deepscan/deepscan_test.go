package deepscan

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func spec(version int) vmfstest.Spec {
	return vmfstest.Spec{Version: version, Label: "deep", Partition: "gpt", Files: []vmfstest.Entry{
		{Path: "vm1/vm1.vmx", Data: []byte(".encoding = \"UTF-8\"\nconfig.version = \"8\"\ndisplayName = \"vm1\"\n")},
		{Path: "vm1/vm1.vmdk", Data: []byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\nRW 8192 VMFS \"vm1-flat.vmdk\"\n")},
		{Path: "vm1/vm1-flat.vmdk", Size: 5<<20 + 4096, Seed: 7},
		{Path: "vm1/small.log", Size: 3000, Seed: 8},
		{Path: "vm1/sub/notes.txt", Data: []byte("notes\n")},
		{Path: "vm2/gone-flat.vmdk", Size: 3 << 20, Seed: 9, Deleted: true},
		{Path: "vm2/keep.txt", Data: []byte("kept\n")},
	}}
}

// image writes a generated volume and returns it with its expectations.
func image(t *testing.T, version int) (string, *vmfstest.Result) {
	t.Helper()
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "disk.img"), spec(version))
	if err != nil {
		t.Fatal(err)
	}
	return res.Image, res
}

// damage overwrites n bytes at off with zeros.
func damage(t *testing.T, img string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, n), off); err != nil {
		t.Fatal(err)
	}
}

func scanImage(t *testing.T, r io.ReaderAt, size int64) []*Recovered {
	t.Helper()
	f := New("test", "id", size)
	if err := Scan(context.Background(), r, f, Options{}); err != nil {
		t.Fatal(err)
	}
	vols, err := Rebuild(r, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) == 0 {
		t.Fatalf("no volume rebuilt; findings: %d LVM, %d descriptors, %d FDs, origins %v", len(f.LVM), len(f.Descriptors), len(f.FDs), f.Origins)
	}
	return vols
}

type entryInfo struct {
	hash, provenance string
	size             int64
}

func entries(t *testing.T, tree *Tree) map[string]entryInfo {
	t.Helper()
	out := map[string]entryInfo{}
	err := listing.Walk(context.Background(), tree, ".", listing.Options{Recursive: true}, func(e listing.Entry, err error) error {
		if err != nil {
			return err
		}
		hash := ""
		if e.Type == "file" && !strings.HasSuffix(e.Path, ".sf") { // system files are large and not under test
			if hash, err = listing.HashFile(tree, strings.TrimPrefix(e.Path, "/")); err != nil {
				return err
			}
		}
		out[e.Path] = entryInfo{hash, e.Attrs.(*Finding).Kind, e.Size}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openFile(t *testing.T, p string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	return f, fi.Size()
}

func wantHash(t *testing.T, res *vmfstest.Result, p string) string {
	t.Helper()
	for _, e := range append(append([]*vmfstest.Expect{}, res.Entries...), res.Deleted...) {
		if e.Path == p {
			h, err := e.SHA256()
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
	}
	t.Fatalf("no expectation for %s", p)
	return ""
}

func TestIntactAndDeleted(t *testing.T) {
	for _, version := range []int{5, 6} {
		t.Run("vmfs"+string(rune('0'+version)), func(t *testing.T) {
			img, res := image(t, version)
			f, size := openFile(t, img)
			vols := scanImage(t, f, size)
			got := entries(t, vols[0].Tree)
			for _, p := range []string{"/vm1/vm1-flat.vmdk", "/vm1/small.log", "/vm1/sub/notes.txt", "/vm2/keep.txt"} {
				if e := got[p]; e.hash != wantHash(t, res, p) || e.provenance != Intact {
					t.Errorf("%s: got %+v, want intact with hash %s", p, e, wantHash(t, res, p))
				}
			}
			// The deleted file comes back with its content: at its old
			// path when a directory entry still names it (VMFS5 slack),
			// under lost+found otherwise (VMFS6 zeroes the entry).
			want := wantHash(t, res, "/vm2/gone-flat.vmdk")
			found := ""
			for p, e := range got {
				if e.provenance == Deleted && e.hash == want {
					found = p
				}
			}
			if found == "" {
				t.Fatalf("deleted file not recovered; entries: %v", got)
			}
			if version == 5 && found != "/vm2/gone-flat.vmdk" {
				t.Errorf("VMFS5 deleted file at %s, want its old path", found)
			}
			if _, ok := got["/carved"]; ok {
				t.Errorf("texts of listed files carved again: %v", got)
			}
		})
	}
}

func TestDamagedMetadata(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: reads hundreds of MiB; make test runs it in its second, race-free pass")
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, img string, res *vmfstest.Result)
		where  string // where vm1-flat.vmdk must be found
	}{
		{"partition table zeroed", func(t *testing.T, img string, res *vmfstest.Result) {
			damage(t, img, 0, 34*512)
		}, "/vm1/vm1-flat.vmdk"},
		{"LVM header zeroed", func(t *testing.T, img string, res *vmfstest.Result) {
			damage(t, img, res.PartitionOffset+0x100000, 0x100000)
		}, "/vm1/vm1-flat.vmdk"},
		{"FS descriptor zeroed", func(t *testing.T, img string, res *vmfstest.Result) {
			damage(t, img, res.PartitionOffset+0x1100000+0x200000, 512)
		}, "/vm1/vm1-flat.vmdk"},
		{"resource bitmaps zeroed", func(t *testing.T, img string, res *vmfstest.Result) {
			// Every cluster header of .fbb.sf and .sbc.sf, and the FDC
			// cluster headers: the allocation state is gone, the data not.
			for _, sf := range []string{"/.fbb.sf", "/.sbc.sf", "/.fdc.sf"} {
				damage(t, img, dataOffset(t, img, res, sf, 0x10000), 0x10000)
			}
		}, "/vm1/vm1-flat.vmdk"},
		{"root directory zeroed", func(t *testing.T, img string, res *vmfstest.Result) {
			v := dataOffset(t, img, res, "/", 0)
			damage(t, img, v, 0x10000)
		}, "lost+found"},
	}
	for _, version := range []int{5, 6} {
		for _, c := range cases {
			t.Run(c.name+"/vmfs"+string(rune('0'+version)), func(t *testing.T) {
				img, res := image(t, version)
				c.damage(t, img, res)
				f, size := openFile(t, img)
				vols := scanImage(t, f, size)
				got := entries(t, vols[0].Tree)
				want := wantHash(t, res, "/vm1/vm1-flat.vmdk")
				for p, e := range got {
					if e.hash == want && strings.Contains(p, strings.TrimPrefix(c.where, "/")) {
						return
					}
				}
				t.Fatalf("vm1-flat.vmdk (sha256 %s) not under %s; got %v\nanomalies: %v", want, c.where, got, vols[0].Anomalies)
			})
		}
	}
}

// dataOffset returns the disk offset of byte off of a file or directory,
// read through the intact image before it is damaged.
func dataOffset(t *testing.T, img string, res *vmfstest.Result, dir string, off int64) int64 {
	t.Helper()
	f, size := openFile(t, img)
	vol, err := vmfs.Open([]vmfs.Device{io.NewSectionReader(f, res.PartitionOffset, size-res.PartitionOffset)}, vmfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := vol.Open(strings.TrimPrefix(dir, "/") + map[bool]string{true: "."}[dir == "/"])
	if err != nil {
		t.Fatal(err)
	}
	loc, _, err := d.(*vmfs.File).Locate(off)
	if err != nil {
		t.Fatal(err)
	}
	return res.PartitionOffset + 0x1100000 + loc
}

// faultyReader fails every read that touches [badOff, badOff+badLen).
type faultyReader struct {
	r              io.ReaderAt
	badOff, badLen int64
	fails          atomic.Int64
}

func (f *faultyReader) ReadAt(p []byte, off int64) (int, error) {
	if off < f.badOff+f.badLen && off+int64(len(p)) > f.badOff {
		f.fails.Add(1)
		return 0, errors.New("input/output error")
	}
	return f.r.ReadAt(p, off)
}

func TestUnreadableSectorsAreSkipped(t *testing.T) {
	img, res := image(t, 5)
	f, size := openFile(t, img)
	// One unreadable page in the middle of vm1-flat.vmdk's data.
	bad := &faultyReader{r: f, badOff: dataOffset(t, img, res, "/vm1/vm1-flat.vmdk", 2<<20+4096), badLen: 4096}
	fd := New("test", "id", size)
	if err := Scan(context.Background(), bad, fd, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(fd.BadRanges) != 1 || fd.BadRanges[0].Off > bad.badOff || fd.BadRanges[0].End() < bad.badOff+bad.badLen || fd.BadRanges[0].Len > 64<<10 {
		t.Fatalf("bad ranges %v, want one small range covering %#x", fd.BadRanges, bad.badOff)
	}
	vols, err := Rebuild(bad, fd)
	if err != nil || len(vols) == 0 {
		t.Fatalf("Rebuild: %v, %d volumes", err, len(vols))
	}
	if got := entries(t, vols[0].Tree)["/vm2/keep.txt"]; got.hash != wantHash(t, res, "/vm2/keep.txt") {
		t.Fatalf("keep.txt: %+v", got)
	}
	// The file that held the bad page says which of its bytes were lost:
	// the page, not the whole block around it.
	info, err := vols[0].Tree.Stat("vm1/vm1-flat.vmdk")
	if err != nil {
		t.Fatal(err)
	}
	fnd := info.Sys().(*Finding)
	if len(fnd.Anomalies) != 1 || !strings.Contains(fnd.Anomalies[0], "bytes 2101248-2105344 lay in unreadable sectors") || fnd.Confidence >= 1 {
		t.Fatalf("vm1-flat.vmdk finding: %+v", fnd)
	}
}

func TestScanResumesWhereInterrupted(t *testing.T) {
	img, _ := image(t, 6)
	f, size := openFile(t, img)
	full := New("test", "id", size)
	if err := Scan(context.Background(), f, full, Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	part := New("test", "id", size)
	var saved *Findings
	err := Scan(ctx, f, part, Options{
		Progress: func(done, total int64) {
			if done >= total/2 {
				cancel()
			}
		},
		Checkpoint: func(f *Findings) error { saved = f; return nil },
	})
	if !errors.Is(err, context.Canceled) || saved == nil || saved.Complete() {
		t.Fatalf("interrupted scan: err %v, saved %v", err, saved != nil)
	}
	path := filepath.Join(t.TempDir(), "scan.json")
	if err := saved.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Scan(context.Background(), f, loaded, Options{}); err != nil {
		t.Fatal(err)
	}
	if !loaded.Complete() || len(loaded.FDs) != len(full.FDs) || len(loaded.Texts) != len(full.Texts) {
		t.Fatalf("resumed scan found %d FDs, %d texts; a full scan %d, %d", len(loaded.FDs), len(loaded.Texts), len(full.FDs), len(full.Texts))
	}
}

// TestReformattedVolume writes a new, empty VMFS over an old one the way a
// format does (only the new metadata is written) and recovers the old
// files from the descriptors that survive outside the new metadata.
func TestReformattedVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: reads hundreds of MiB; make test runs it in its second, race-free pass")
	}
	for _, version := range []int{5, 6} {
		t.Run("vmfs"+string(rune('0'+version)), func(t *testing.T) {
			img, res := image(t, version)
			fresh := spec(version)
			fresh.Files, fresh.Seed, fresh.Label = nil, 99, "new"
			newRes, err := vmfstest.Write(filepath.Join(t.TempDir(), "new.img"), fresh)
			if err != nil {
				t.Fatal(err)
			}
			overlayNonZero(t, newRes.Image, img)
			f, size := openFile(t, img)
			vols := scanImage(t, f, size)
			var labels []string
			found := 0
			for _, v := range vols {
				labels = append(labels, v.Label)
				for p, e := range entries(t, v.Tree) {
					if e.hash == wantHash(t, res, "/vm1/vm1-flat.vmdk") || e.hash == wantHash(t, res, "/vm1/small.log") {
						found++
						if e.provenance == Intact {
							t.Errorf("%s: an old file listed as intact in the new volume", p)
						}
					}
				}
			}
			if found < 2 {
				t.Fatalf("old files not recovered (labels %v)", labels)
			}
		})
	}
}

// overlayNonZero copies every non-zero 4 KiB block of src over dst.
func overlayNonZero(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf := make([]byte, 4096)
	zero := make([]byte, 4096)
	for off := int64(0); ; off += 4096 {
		n, err := in.ReadAt(buf, off)
		if n > 0 && string(buf[:n]) != string(zero[:n]) {
			if _, werr := out.WriteAt(buf[:n], off); werr != nil {
				t.Fatal(werr)
			}
		}
		if err != nil {
			return
		}
	}
}

// holes is an empty disk that costs no I/O: ReadAt leaves the buffer as
// it is (the scanner's buffers start zeroed and only ever hold zeros here).
type holes struct{}

func (holes) ReadAt(p []byte, off int64) (int, error) { return len(p), nil }

// TestMemoryBoundedBySize scans a 32 GiB empty disk and checks that the
// heap stays small: memory follows the metadata found, not the disk size.
func TestMemoryBoundedBySize(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: reads hundreds of MiB; make test runs it in its second, race-free pass")
	}
	const size = 32 << 30
	var peak uint64
	var ms runtime.MemStats
	f := New("holes", "holes", size)
	err := Scan(context.Background(), holes{}, f, Options{Progress: func(done, total int64) {
		if done%(1<<30) == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Complete() || peak == 0 || peak > 64<<20 {
		t.Fatalf("complete %v, peak heap %d MiB (want under 64 MiB)", f.Complete(), peak>>20)
	}
	t.Logf("peak heap while scanning 32 GiB: %d MiB", peak>>20)
}

// TestTruncatedVolumeSaysSo is issue 12 item 8: the first 3 MiB of the
// real VMFS6 sample (its LVM6 header, not its descriptor) deep-scanned as
// "VMFS5", with no word that the image ends 17 MiB before the volume even
// starts.
func TestTruncatedVolumeSaysSo(t *testing.T) {
	img, _ := vmfstest.RealSample(t, "vmfs6")
	f, _ := openFile(t, img)
	const size = 3 << 20
	head := io.NewSectionReader(f, 0, size)
	vols := scanImage(t, head, size)
	if len(vols) != 1 {
		t.Fatalf("%d volumes", len(vols))
	}
	v := vols[0]
	const origin, logical = 0x1100000, 805306368 // by the sample's LVM header
	if v.Version != 6 || v.Origin != origin || v.Missing != origin+logical-size {
		t.Fatalf("version %d, origin %#x, missing %d; want VMFS6 at %#x missing %d", v.Version, v.Origin, v.Missing, origin, origin+logical-size)
	}
	if !strings.Contains(strings.Join(v.Anomalies, "\n"), "truncated") {
		t.Errorf("anomalies do not say the image is truncated: %q", v.Anomalies)
	}
	for _, a := range v.Anomalies {
		if strings.Contains(a, "\n") {
			t.Errorf("an anomaly of several lines prints as one: %q", a)
		}
	}
}

// TestTextAcrossWindows plants a descriptor at the last sector of a
// scan window, running into the next one, and a .vmx at the first sector
// of the next window but one, on a disk whose size is not a multiple of
// the window: each is found once, whole, whichever buffer its bytes were
// read into.
func TestTextAcrossWindows(t *testing.T) {
	desc := "# Disk DescriptorFile\nversion=1\ncreateType=\"vmfs\"\n" + strings.Repeat("# padding line\n", 200) + "RW 8192 VMFS \"edge-flat.vmdk\"\n"
	vmx := ".encoding = \"UTF-8\"\ndisplayName = \"edge\"\n"
	disk := make([]byte, 3*chunkSize+overlap/2+512)
	copy(disk[chunkSize-sector:], desc)
	copy(disk[2*chunkSize:], vmx)
	f := New("test", "id", int64(len(disk)))
	if err := Scan(context.Background(), bytes.NewReader(disk), f, Options{}); err != nil {
		t.Fatal(err)
	}
	want := []TextHit{
		{Offset: chunkSize - sector, Kind: "vmdk-descriptor", Length: int64(len(desc)), Name: "edge.vmdk"},
		{Offset: 2 * chunkSize, Kind: "vmx", Length: int64(len(vmx)), Name: "edge.vmx"},
	}
	if len(f.Texts) != len(want) || f.Texts[0] != want[0] || f.Texts[1] != want[1] {
		t.Fatalf("texts %+v, want %+v", f.Texts, want)
	}
	if f.Done != f.Size {
		t.Fatalf("done %d of %d", f.Done, f.Size)
	}
}

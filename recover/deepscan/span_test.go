package deepscan

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// spannedImage writes the generator's spanned fixture of a version (VMFS5
// over 3 disks, VMFS6 over 2) with a file whose data crosses every extent.
func spannedImage(t *testing.T, version int) *vmfstest.Result {
	t.Helper()
	for _, fx := range vmfstest.Fixtures(false) {
		if fx.Spec.Version == version && fx.Spec.Extents > 1 {
			res, err := vmfstest.Write(filepath.Join(t.TempDir(), "span.img"), fx.Spec)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
	}
	t.Fatalf("no spanned VMFS%d fixture", version)
	return nil
}

// spannedRootOffset is the disk offset, on the first disk, of the root
// directory of an intact spanned volume.
func spannedRootOffset(t *testing.T, res *vmfstest.Result) int64 {
	t.Helper()
	var devs []vmfs.Device
	for _, img := range res.Images {
		f, size := openFile(t, img)
		devs = append(devs, io.NewSectionReader(f, res.PartitionOffset, size-res.PartitionOffset))
	}
	vol, err := vmfs.Open(devs, vmfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := vol.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	loc, _, err := d.(*vmfs.File).Locate(0)
	if err != nil {
		t.Fatal(err)
	}
	return res.PartitionOffset + 0x1100000 + loc
}

// A volume spanned over several disks is rebuilt across them: every file
// reads exactly, the one whose blocks lie on every disk included, whether
// the metadata is intact or its root directory is gone. Before, each disk
// was rebuilt alone and that file failed to read past the first disk.
// With a disk missing, the file's bytes on it are named as lost.
func TestSpannedVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: scans 1.5 GiB of sparse images; make test runs it in its second, race-free pass")
	}
	for _, version := range []int{5, 6} {
		t.Run(fmt.Sprintf("vmfs%d", version), func(t *testing.T) {
			res := spannedImage(t, version)
			const across = "/span/across-extents.bin"
			want := wantHash(t, res, across)
			scan := func(images []string) Found {
				t.Helper()
				s, err := ScanSources(context.Background(), openSources(t, images...), SourcesOptions{Dir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				if len(s.Volumes) != 1 {
					t.Fatalf("%d volumes rebuilt, want 1: %+v", len(s.Volumes), s.Volumes)
				}
				return s.Volumes[0]
			}

			// Intact, disks given in reverse order.
			reversed := slices.Clone(res.Images)
			slices.Reverse(reversed)
			vol := scan(reversed)
			got := entries(t, vol.Tree)
			for _, e := range res.Entries {
				if e.Kind != vmfstest.File || strings.HasSuffix(e.Path, ".sf") {
					continue
				}
				if h := wantHash(t, res, e.Path); got[e.Path].hash != h {
					t.Errorf("intact: %s: sha256 %s, want %s", e.Path, got[e.Path].hash, h)
				}
			}

			// Root directory zeroed: the file is an orphan, still exact.
			damage(t, res.Image, spannedRootOffset(t, res), 0x10000)
			vol = scan(res.Images)
			found := false
			for p, e := range entries(t, vol.Tree) {
				found = found || (e.hash == want && strings.HasPrefix(p, "/lost+found/"))
			}
			if !found {
				t.Errorf("root zeroed: %s (sha256 %s) not under /lost+found; anomalies %v", across, want, vol.Anomalies)
			}

			// Only the first disk: the file's bytes on the others are named.
			vol = scan(res.Images[:1])
			var anomalies []string
			err := listing.Walk(context.Background(), vol.Tree, ".", listing.Options{Recursive: true}, func(e listing.Entry, err error) error {
				if err == nil && strings.HasSuffix(e.Path, "/across-extents.bin") {
					anomalies = e.Attrs.(*Finding).Anomalies
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(anomalies) == 0 || !strings.Contains(strings.Join(anomalies, "\n"), "lie on a disk of the spanned volume that was not scanned") {
				t.Errorf("first disk only: file anomalies %q", anomalies)
			}
			if !strings.Contains(strings.Join(vol.Anomalies, "\n"), "extent missing") {
				t.Errorf("first disk only: volume anomalies %q", vol.Anomalies)
			}
		})
	}
}

// openSources opens raw images as the command line opens SOURCEs.
func openSources(t *testing.T, images ...string) []Source {
	t.Helper()
	var srcs []Source
	for _, img := range images {
		d, err := disk.Open(img, disk.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, Source{Spec: img, Disk: d})
	}
	return srcs
}

// Several sources scan at once and each keeps its own volume.
func TestScanSourcesInParallel(t *testing.T) {
	a, resA := image(t, 5)
	b, resB := image(t, 6)
	s, err := ScanSources(context.Background(), openSources(t, a, b), SourcesOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Volumes) != 2 || s.Volumes[0].Source != a || s.Volumes[1].Source != b {
		t.Fatalf("volumes %+v", s.Volumes)
	}
	for i, res := range []*vmfstest.Result{resA, resB} {
		got := entries(t, s.Volumes[i].Tree)
		if h := wantHash(t, res, "/vm1/vm1-flat.vmdk"); got["/vm1/vm1-flat.vmdk"].hash != h {
			t.Errorf("source %d: vm1-flat.vmdk sha256 %s, want %s", i, got["/vm1/vm1-flat.vmdk"].hash, h)
		}
	}
}

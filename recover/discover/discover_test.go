package discover

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func volume(t *testing.T, label string, seed uint64) string {
	t.Helper()
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "ds.img"), vmfstest.Spec{Version: 6, Label: label, Seed: seed,
		Files: []vmfstest.Entry{{Path: "f.txt", Data: []byte("f\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Image
}

func open(t *testing.T, images ...string) *Session {
	t.Helper()
	var srcs []Source
	for _, img := range images {
		d, err := disk.Open(img, disk.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, Source{Spec: img, Disk: d})
	}
	s, err := Open(srcs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSelectAmbiguousLabel is issue 12 item 9: --volume "VMFS6 Test" with
// two sources holding a volume of that label picked one silently.
func TestSelectAmbiguousLabel(t *testing.T) {
	a, b := volume(t, "VMFS6 Test", 1), volume(t, "VMFS6 Test", 2)
	s := open(t, a, b)
	if len(s.Volumes) != 2 || s.Volumes[0].UUID == s.Volumes[1].UUID {
		t.Fatalf("volumes %+v", s.Volumes)
	}
	_, err := s.Select("VMFS6 Test")
	if !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("Select by a shared label: %v", err)
	}
	for _, want := range []string{s.Volumes[0].UUID, s.Volumes[1].UUID, a, b} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %s", err, want)
		}
	}
	if v, err := s.Select(s.Volumes[1].UUID); err != nil || v != &s.Volumes[1] {
		t.Errorf("Select by UUID: %v", err)
	}
	if v, err := s.Select("2"); err != nil || v != &s.Volumes[1] {
		t.Errorf("Select by number: %v", err)
	}
}

// TestSameDiskGivenTwice: an image and an exact copy of it are one disk,
// read once and said so, not two volumes with the same UUID.
func TestSameDiskGivenTwice(t *testing.T) {
	a := volume(t, "once", 1)
	b := filepath.Join(t.TempDir(), "copy.img")
	in, _ := os.Open(a)
	defer in.Close()
	out, err := os.Create(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	s := open(t, a, b)
	if len(s.Volumes) != 1 || len(s.Sources) != 1 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "same disk") {
		t.Fatalf("%d volumes, %d sources, warnings %q", len(s.Volumes), len(s.Sources), s.Warnings)
	}
}

// TestTruncatedImageSaysSo: the first 64 MiB of a volume's image open
// with an error about an unexpected end, and said nothing of the bytes
// the image lacks (issue 12 item 8, without --deep).
func TestTruncatedImageSaysSo(t *testing.T) {
	img := volume(t, "cut", 1)
	const keep = 64 << 20
	if err := os.Truncate(img, keep); err != nil {
		t.Fatal(err)
	}
	s := open(t, img)
	if len(s.Volumes) != 1 {
		t.Fatalf("%d volumes", len(s.Volumes))
	}
	v := s.Volumes[0]
	end := extentEnd(v.Set.Extents[0])
	if end <= keep || v.Truncated != end-keep || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "truncated") {
		t.Fatalf("truncated %d (extent ends at %d), warnings %q", v.Truncated, end, s.Warnings)
	}
	whole := open(t, volume(t, "whole", 2))
	if whole.Volumes[0].Truncated != 0 || len(whole.Warnings) != 0 {
		t.Fatalf("an intact image: truncated %d, warnings %q", whole.Volumes[0].Truncated, whole.Warnings)
	}
}

package deepscan

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/fingerprint"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
)

// A scan file whose path reaches the source (here a hard link of the disk
// image at the scan file's name) is refused, naming both, and the image is
// neither read as a scan file nor overwritten.
func TestScanFileNeverOverwritesASource(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(t.TempDir(), "disk.img")
	data := bytes.Repeat([]byte("not a VMFS volume, but the only copy. "), 100000)
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := disk.Open(img, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := fingerprint.Take(d, d.Size())
	if err != nil {
		t.Fatal(err)
	}
	scanFile := ScanFilePath(dir, fp.ID())
	os.MkdirAll(filepath.Dir(scanFile), 0o755)
	if err := os.Link(img, scanFile); err != nil {
		t.Fatal(err)
	}
	_, err = ScanSources(context.Background(), []Source{{Spec: img, Disk: d}}, SourcesOptions{Dir: dir})
	var e *writeguard.Error
	if !errors.As(err, &e) || e.Target != scanFile || e.Source != img {
		t.Errorf("scan with its scan file on the source: %v, want the guard's refusal naming %s and %s", err, scanFile, img)
	}
	if got, _ := os.ReadFile(img); !bytes.Equal(got, data) {
		t.Fatal("the deep scan changed its source")
	}
}

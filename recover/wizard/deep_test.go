package wizard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// damagedVolume is testVolume with its LVM header zeroed: the quick scan
// finds nothing there, the deep scan rebuilds the volume from what is left.
func damagedVolume(t *testing.T) string {
	t.Helper()
	img, _ := testVolume(t)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 4096), 1<<20); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestDeepScan: a quick scan of a volume whose LVM header is gone finds
// nothing; the deep scan rebuilds it, the deleted filter lists the deleted
// file, which is exported with its content; a resumed wizard reuses the
// scan file.
func TestDeepScan(t *testing.T) {
	img := damagedVolume(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	opts := Options{StatePath: state, ScanDir: dir}
	ctx := context.Background()
	w := New(opts)
	defer w.Close()
	if err := w.SetSources([]string{img}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(ctx, ScanQuick); !errors.Is(err, ErrNothingFound) {
		t.Fatalf("quick scan of a damaged volume: %v", err)
	}
	var progressed bool
	w.opts.DeepProgress = func(source string, size int64, _ func() int64) (func(int64, int64), func()) {
		return func(done, total int64) { progressed = progressed || (done > 0 && total == size) }, func() {}
	}
	vols, err := w.Scan(ctx, ScanDeep)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 1 || vols[0].Label != "wizard-ds" || !vols[0].Deep || !strings.Contains(vols[0].Found, "deleted") || !progressed {
		t.Fatalf("deep volumes %+v (progress %v)", vols, progressed)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".vmfsrecover", "scan-*.json")); len(matches) != 1 {
		t.Errorf("scan files %q", matches)
	}
	if err := w.ChooseVolume(ctx, 1); err != nil {
		t.Fatal(err)
	}
	del, err := w.List(ctx, FilterDeleted, "")
	if err != nil {
		t.Fatal(err)
	}
	// VMFS6 zeroes a deleted entry's name; its descriptor still names the
	// parent folder, so the file comes back there under its descriptor
	// address.
	if len(del) != 1 || !strings.HasPrefix(del[0].Path, "/old/fd-") || del[0].Provenance != "deleted" {
		t.Fatalf("deleted %+v", del)
	}
	all, err := w.List(ctx, FilterAll, "vm1.vmx")
	if err != nil || len(all) != 1 || all[0].Provenance != "intact" {
		t.Fatalf("intact %v %+v", err, all)
	}
	gone := del[0].Path
	if err := w.Select(ctx, gone, "/vm1"); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// Resume: the volume comes back from the scan file.
	r, err := Resume(Options{StatePath: state, ScanDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Next(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := r.SetDestination(ctx, Destination{Kind: DestLocal, Dir: out, Verify: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.Confirm(false); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Export(ctx, nil)
	if err != nil || !rep.OK() || rep.Exported != 5 {
		t.Fatalf("export %v %+v", err, rep)
	}
	if b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(gone))); err != nil || string(b) != "deleted" {
		t.Errorf("deleted file: %v %q", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(out, "vm1", "vm1.vmx")); err != nil || string(b) != testVMX {
		t.Errorf("vm1.vmx: %v", err)
	}
	m, err := os.ReadFile(rep.Manifest)
	if err != nil || !strings.Contains(string(m), `"provenance":"deleted"`) {
		t.Errorf("manifest lacks the provenance: %v\n%s", err, m)
	}
	if !slices.Equal(r.State().Selected, []string{gone[1:], "vm1"}) {
		t.Errorf("selection %q", r.State().Selected)
	}
}

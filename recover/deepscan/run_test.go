package deepscan

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/fingerprint"
)

// copyFile copies src to dst (sparse enough for the generated images).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// runImage runs the deep scan of img with scan files in dir and returns
// the findings, the scan file and the events.
func runImage(t *testing.T, img string, opts RunOptions) (*Findings, string, []Event) {
	t.Helper()
	f, size := openFile(t, img)
	var events []Event
	opts.Notify = func(e Event) { events = append(events, e) }
	fd, path, err := Run(context.Background(), f, size, img, opts)
	if err != nil {
		t.Fatal(err)
	}
	return fd, path, events
}

func kinds(events []Event) []EventKind {
	var out []EventKind
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

// TestScanFileReuseIsAnnounced: a second run reuses the complete scan file
// and says which, when it was saved and what it holds.
func TestScanFileReuseIsAnnounced(t *testing.T) {
	img, _ := image(t, 6)
	dir := t.TempDir()
	first, path, events := runImage(t, img, RunOptions{Dir: dir})
	if len(events) != 0 || path == "" {
		t.Fatalf("first run: path %q, events %v", path, events)
	}
	again, path2, events := runImage(t, img, RunOptions{Dir: dir})
	if path2 != path || len(events) != 1 || events[0].Kind != Reused || events[0].ScanFile != path ||
		events[0].Saved.IsZero() || len(again.FDs) != len(first.FDs) {
		t.Fatalf("second run: path %q, events %+v", path2, events)
	}
	msg := events[0].String()
	for _, want := range []string{path, events[0].Saved.Local().Format(timeFormat), "1 file-system descriptor", "file descriptors"} {
		if !strings.Contains(msg, want) {
			t.Errorf("reuse notice %q does not say %q", msg, want)
		}
	}
	if _, _, events := runImage(t, img, RunOptions{Dir: dir, Rescan: true}); len(events) != 0 {
		t.Errorf("--rescan: events %v", events)
	}
}

// TestScanFileNotReusedForChangedCopy is the defect of issue 12 item 5: a
// copy whose FS descriptor is zeroed has the same size, first 2 MiB and
// last 1 MiB, and was given the original's findings (label, UUID and a
// descriptor that is gone).
func TestScanFileNotReusedForChangedCopy(t *testing.T) {
	img, res := image(t, 6)
	dir := t.TempDir()
	orig, _, _ := runImage(t, img, RunOptions{Dir: dir})
	if len(orig.Descriptors) != 1 {
		t.Fatalf("original: %d descriptors", len(orig.Descriptors))
	}
	cp := filepath.Join(filepath.Dir(img), "copy.img")
	copyFile(t, img, cp)
	damage(t, cp, res.PartitionOffset+0x1100000+0x200000, 512)
	got, _, events := runImage(t, cp, RunOptions{Dir: dir})
	if len(got.Descriptors) != 0 {
		t.Fatalf("the copy got the original's findings: %d descriptors; events %v", len(got.Descriptors), events)
	}
	if len(events) != 1 || events[0].Kind != Stale || !strings.Contains(events[0].Reason, "file-system descriptor") {
		t.Fatalf("events %+v, want one Stale naming the descriptor", events)
	}
}

// TestScanFileNotReusedWhenSourceChanged: the same file, modified since
// its scan (mtime), or changed where the spread samples look (another
// scan file name, the old one noticed and kept).
func TestScanFileNotReusedWhenSourceChanged(t *testing.T) {
	img, _ := image(t, 5)
	dir := t.TempDir()
	_, path, _ := runImage(t, img, RunOptions{Dir: dir})

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(img, later, later); err != nil {
		t.Fatal(err)
	}
	_, path2, events := runImage(t, img, RunOptions{Dir: dir})
	if path2 != path || len(events) != 1 || events[0].Kind != Stale || !strings.Contains(events[0].Reason, "was modified") {
		t.Fatalf("after touch: path %q (was %q), events %+v", path2, path, events)
	}

	// Change the block the 32nd spread sample reads: a new identity.
	f, size := openFile(t, img)
	p, _ := fingerprint.Take(f, size)
	scribble(t, img, size/128*63/4096*4096, 4096)
	q, _ := fingerprint.Take(f, size)
	if q.ID() == p.ID() {
		t.Fatal("changing a sampled block kept the fingerprint")
	}
	_, path3, events := runImage(t, img, RunOptions{Dir: dir})
	if path3 == path || len(events) != 1 || events[0].Kind != Stale || events[0].ScanFile != path || !strings.Contains(events[0].Reason, "same size, start and end") {
		t.Fatalf("after a change at a sample: path %q, events %+v", path3, events)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the other scan file is not kept: %v", err)
	}
}

// TestScanFileFallsBackWhenDirNotWritable is issue 12 item 6: the scan
// file goes to the fallback folder, said so, and with none it is said
// not to be saved, also when the scan is interrupted.
func TestScanFileFallsBackWhenDirNotWritable(t *testing.T) {
	img, _ := image(t, 6)
	// A folder that cannot be created (tests may run as root, which
	// ignores permission bits): a regular file stands where it would be.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fallback := t.TempDir()
	_, path, events := runImage(t, img, RunOptions{Dir: blocked, Fallback: fallback})
	if !strings.HasPrefix(path, fallback) || len(events) != 1 || events[0].Kind != Moved || !strings.Contains(events[0].String(), blocked) {
		t.Fatalf("path %q, events %+v", path, events)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	// Found there by the next run, even though Dir still cannot be written.
	if _, path2, events := runImage(t, img, RunOptions{Dir: blocked, Fallback: fallback}); path2 != path || len(kinds(events)) != 1 || events[0].Kind != Reused {
		t.Fatalf("second run: %q, %+v", path2, events)
	}

	_, path, events = runImage(t, img, RunOptions{Dir: blocked, Rescan: true})
	if path != "" || len(events) != 1 || events[0].Kind != Unsaved {
		t.Fatalf("no fallback: path %q, events %+v", path, events)
	}
	// A fallback that cannot be written either: both are named.
	_, path, events = runImage(t, img, RunOptions{Dir: blocked, Fallback: filepath.Join(blocked, "cache"), Rescan: true})
	if path != "" || len(events) != 1 || events[0].Kind != Unsaved || strings.Count(events[0].Reason, "cannot be written") != 2 {
		t.Fatalf("fallback blocked too: path %q, events %+v", path, events)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := ScanSources(ctx, openSources(t, img), SourcesOptions{Dir: blocked, Rescan: true,
		Progress: func(string, int64, func() int64) (func(int64, int64), func()) {
			return func(done, total int64) {
				if done > total/2 {
					cancel()
				}
			}, func() {}
		}})
	if err == nil {
		s.Close()
		t.Fatal("interrupted scan: no error")
	}
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "saved in") || !strings.Contains(err.Error(), "not saved") {
		t.Fatalf("interrupted scan: %v", err)
	}
}

// scribble overwrites n bytes at off with a pattern that is not zeros.
func scribble(t *testing.T, img string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("scribble", int(n/8+1))[:n]), off); err != nil {
		t.Fatal(err)
	}
}

// TestSelectAmbiguousLabel: a label two found volumes share is an error
// listing both (issue 12 item 9), not the first of them.
func TestSelectAmbiguousLabel(t *testing.T) {
	vols := []Found{
		{Recovered: &Recovered{Label: "VMFS6 Test", UUID: "uuid-a"}, Number: 1, Source: "a.img"},
		{Recovered: &Recovered{Label: "other", UUID: "uuid-b"}, Number: 2, Source: "a.img"},
		{Recovered: &Recovered{Label: "VMFS6 Test", UUID: "uuid-c", Origin: 4096}, Number: 3, Source: "c.img"},
	}
	_, err := Select(vols, "VMFS6 Test")
	if !errors.Is(err, discover.ErrAmbiguous) || !strings.Contains(err.Error(), "uuid-a") || !strings.Contains(err.Error(), "uuid-c on c.img") {
		t.Fatalf("Select by a shared label: %v", err)
	}
	if v, err := Select(vols, "uuid-c"); err != nil || v.Number != 3 {
		t.Fatalf("Select by UUID: %v", err)
	}
}

// TestSameDiskScannedOnce: an image and its exact copy are scanned once.
func TestSameDiskScannedOnce(t *testing.T) {
	img, _ := image(t, 5)
	cp := filepath.Join(t.TempDir(), "copy.img")
	copyFile(t, img, cp)
	s, err := ScanSources(context.Background(), openSources(t, img, cp), SourcesOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Volumes) != 1 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], cp+" is the same disk as "+img) {
		t.Fatalf("%d volumes, warnings %q", len(s.Volumes), s.Warnings)
	}
}

package export

import (
	"strings"
	"testing"
	"time"
)

// TestLineProgress: a plain line per file done, failed files counted but
// not listed (the caller reports them once, with why).
func TestLineProgress(t *testing.T) {
	var b strings.Builder
	p := NewProgress(&b, "export", false, time.Hour)
	p.Start(2, 300)
	p.FileStart("a", 100)
	p.Add("a", 100)
	p.FileDone("a", StatusExported)
	p.Add("b", 200)
	p.FileDone("b", StatusFailed)
	p.Finish()
	want := "export: 2 files, 300 bytes\nexported: a\nexport: 300/300 bytes (100%), "
	if !strings.HasPrefix(b.String(), want) || !strings.Contains(b.String(), ", 2/2 files (1 failed)\n") || strings.Contains(b.String(), "failed: b") {
		t.Fatalf("got\n%s\nwant prefix\n%s", b.String(), want)
	}
}

// TestBarProgress: the bar names its work, and one cut short is not shown
// full.
func TestBarProgress(t *testing.T) {
	var bar strings.Builder
	p := NewProgress(&bar, "verify", true, 0)
	p.Start(1, 1<<20)
	p.FileStart("vm1/disk-flat.vmdk", 1<<20)
	p.Add("vm1/disk-flat.vmdk", 1<<20)
	p.FileDone("vm1/disk-flat.vmdk", "verified")
	p.Finish()
	if !strings.Contains(bar.String(), "verify 1/1 files") || !strings.Contains(bar.String(), "100%") {
		t.Fatalf("bar output %q", bar.String())
	}

	var cut strings.Builder
	p = NewProgress(&cut, "export", true, 0)
	p.Start(2, 2<<20)
	p.FileStart("a", 1<<20)
	p.Add("a", 1<<19)
	p.FileDone("a", StatusInterrupted)
	p.Finish()
	if strings.Contains(cut.String(), "100%") || !strings.Contains(cut.String(), "export stopped: 1/2 files (1 interrupted), 524288 of 2097152 bytes") {
		t.Fatalf("interrupted bar output %q", cut.String())
	}
}

// TestBarProgressFailed: every file tried but one failed: not a full bar,
// and not "stopped" either.
func TestBarProgressFailed(t *testing.T) {
	var out strings.Builder
	p := NewProgress(&out, "export", true, 0)
	p.Start(2, 200)
	p.FileStart("a", 100)
	p.Add("a", 100)
	p.FileDone("a", StatusExported)
	p.FileStart("b", 100)
	p.Add("b", 40)
	p.FileDone("b", StatusFailed)
	p.Finish()
	if strings.Contains(out.String(), "100% |") || !strings.Contains(out.String(), "export ended: 2/2 files (1 failed), 140 of 200 bytes") {
		t.Fatalf("output %q", out.String())
	}
}

package progress

import (
	"strings"
	"testing"
	"time"
)

// Plain lines: one per update with interval 0, the status at the end of
// each, and Finish adds no line the last update already wrote.
func TestLines(t *testing.T) {
	var out strings.Builder
	d := New(&out, false, 0, "scan disk.img", 200)
	d.Set(100)
	d.Status("received 1 KiB at 1 KiB/s")
	d.Add(100)
	d.Finish()
	d.Finish()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "scan disk.img: 100/200 bytes (50%), ") ||
		!strings.HasPrefix(lines[1], "scan disk.img: 200/200 bytes (100%), ") || !strings.HasSuffix(lines[1], ", received 1 KiB at 1 KiB/s") {
		t.Fatalf("lines %q", lines)
	}
}

// A long interval writes nothing between the updates and one line at
// the end; work cut short ends with its summary instead.
func TestLinesInterval(t *testing.T) {
	var out strings.Builder
	d := New(&out, false, time.Hour, "export", 300)
	d.Add(100)
	d.Println("exported: a")
	d.Add(200)
	d.Finish()
	if s := out.String(); !strings.HasPrefix(s, "exported: a\nexport: 300/300 bytes (100%), ") || strings.Count(s, "\n") != 2 {
		t.Fatalf("output %q", s)
	}
	out.Reset()
	d = New(&out, false, time.Hour, "export", 300)
	d.Add(100)
	d.Stop("export stopped: 0/1 files, 100 of 300 bytes")
	if s := out.String(); s != "export stopped: 0/1 files, 100 of 300 bytes\n" {
		t.Fatalf("stopped output %q", s)
	}
}

// The bar names its work and status, fills on Finish, and a stopped one
// is not shown full.
func TestBar(t *testing.T) {
	var out strings.Builder
	d := New(&out, true, 0, "image", 1<<20)
	d.Status("rescued 1.0 MiB")
	d.Set(1 << 20)
	d.Finish()
	if s := out.String(); !strings.Contains(s, "image rescued 1.0 MiB") || !strings.Contains(s, "100%") {
		t.Fatalf("bar %q", s)
	}
	out.Reset()
	d = New(&out, true, 0, "export", 1<<20)
	d.Set(1 << 19)
	d.Stop("export stopped")
	if s := out.String(); strings.Contains(s, "100%") || !strings.HasSuffix(s, "\rexport stopped\n") {
		t.Fatalf("stopped bar %q", s)
	}
}

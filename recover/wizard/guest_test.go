package wizard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// guestDatastore writes a VMFS6 volume holding vm2/vm2.vmdk, a descriptor
// over a -flat extent that is a disk partitioned by sfdisk with an ext4
// partition made by mkfs.ext4 -d holding home/alice/report.txt.
func guestDatastore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "home", "alice")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "report.txt"), []byte("quarterly numbers\n"), 0o644)
	os.WriteFile(filepath.Join(src, "notes.txt"), []byte("notes\n"), 0o644)
	flat := filepath.Join(dir, "vm2-flat.vmdk")
	guesttest.Ext4Disk(t, flat, 8<<20, filepath.Join(dir, "src"))
	data, _ := os.ReadFile(flat)
	img := filepath.Join(dir, "ds.img")
	_, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "guests", Files: []vmfstest.Entry{
		{Path: "vm2/vm2.vmx", Data: []byte("displayName = \"vm2\"\nscsi0:0.fileName = \"vm2.vmdk\"\n")},
		{Path: "vm2/vm2.vmdk", Data: guesttest.Descriptor("vm2-flat.vmdk", 8<<20)},
		{Path: "vm2/vm2-flat.vmdk", Data: data, Thin: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// The guests filter lists the inside of the VMs' disks; a search by name
// finds a file in them, and the export writes it at its path through the
// layers. The other filters do not enter the disks.
func TestRunAnswersGuests(t *testing.T) {
	img := guestDatastore(t)
	out := filepath.Join(t.TempDir(), "out")
	runGuestAnswers(t, `{"sources": [`+quote(img)+`], "filter": "guests", "search": "report",
		"select": ["*"], "destination": {"local": `+quote(out)+`}}`, 1)
	if b, err := os.ReadFile(filepath.Join(out, "vm2/vm2.vmdk@/p1/home/alice/report.txt")); err != nil || string(b) != "quarterly numbers\n" {
		t.Errorf("exported report.txt: %v %q", err, b)
	}
}

func TestListGuests(t *testing.T) {
	img := guestDatastore(t)
	w := New(Options{})
	defer w.Close()
	ctx := context.Background()
	if err := w.SetSources([]string{img}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(ctx, ScanQuick); err != nil {
		t.Fatal(err)
	}
	if w.Step() != StepBrowse {
		if err := w.ChooseVolume(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	items, err := w.List(ctx, FilterGuests, "")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, it := range items {
		lines = append(lines, it.Kind+" "+it.Path+" "+it.Info)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{"volume /vm2/vm2.vmdk@/p1 partition p1 (Linux), ext4", "file /vm2/vm2.vmdk@/p1/home/alice/notes.txt partition p1 (Linux), ext4"} {
		if !strings.Contains(got, want) {
			t.Errorf("guests list lacks %q:\n%s", want, got)
		}
	}
	all, err := w.List(ctx, FilterAll, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range all {
		if strings.Contains(it.Path, "@/") {
			t.Errorf("filter all enters the disk: %s", it.Path)
		}
	}
}

// A VM's disk as the source (no VMFS on it): the wizard offers its
// partitions and files as the one volume, and exports them.
func TestRunAnswersGuestDiskSource(t *testing.T) {
	img := guestDatastore(t)
	flat := filepath.Join(filepath.Dir(img), "vm2-flat.vmdk")
	out := filepath.Join(t.TempDir(), "out")
	runGuestAnswers(t, `{"sources": [`+quote(flat)+`], "search": "alice",
		"select": ["*"], "destination": {"local": `+quote(out)+`}}`, 2)
	if b, err := os.ReadFile(filepath.Join(out, "p1/home/alice/report.txt")); err != nil || string(b) != "quarterly numbers\n" {
		t.Errorf("exported report.txt: %v %q", err, b)
	}
}

// runGuestAnswers runs the wizard from an answers file and checks that it
// exported n files.
func runGuestAnswers(t *testing.T, answers string, n int) {
	t.Helper()
	a, err := LoadAnswers(strings.NewReader(answers))
	if err != nil {
		t.Fatal(err)
	}
	w := New(Options{})
	defer w.Close()
	var screen strings.Builder
	r, err := RunAnswers(context.Background(), w, a, &screen, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, screen.String())
	}
	if r.Exported != n || !r.OK() {
		t.Errorf("report %+v, want %d exported\n%s", r, n, screen.String())
	}
}

package wizard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// guestDatastore writes a VMFS6 volume holding the VM vm2 with two disks:
// vm2.vmdk, a descriptor over a -flat extent that is a disk partitioned by
// sfdisk with an ext4 partition made by mkfs.ext4 -d holding
// home/alice/report.txt and notes.txt, and vm2_1.vmdk, whose one partition
// holds no file system.
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
	empty := filepath.Join(dir, "vm2_1-flat.vmdk")
	os.WriteFile(empty, make([]byte, 2<<20), 0o644)
	guesttest.Run(t, "label: dos\nstart=2048, type=7\n", "sfdisk", "-q", empty)
	emptyData, _ := os.ReadFile(empty)
	img := filepath.Join(dir, "ds.img")
	_, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "guests", Files: []vmfstest.Entry{
		{Path: "vm2/vm2.vmx", Data: []byte("displayName = \"vm2\"\nscsi0:0.fileName = \"vm2.vmdk\"\nscsi0:1.fileName = \"vm2_1.vmdk\"\n")},
		{Path: "vm2/vm2.vmdk", Data: guesttest.Descriptor("vm2-flat.vmdk", 8<<20)},
		{Path: "vm2/vm2-flat.vmdk", Data: data, Thin: true},
		{Path: "vm2/vm2_1.vmdk", Data: guesttest.Descriptor("vm2_1-flat.vmdk", 2<<20)},
		{Path: "vm2/vm2_1-flat.vmdk", Data: emptyData, Thin: true},
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
		lines = append(lines, it.Kind+" "+it.Path+" "+it.Info+" -> "+it.Folder)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"volume /vm2/vm2.vmdk@/p1 partition p1 (Linux), ext4, readable -> /vm2/vm2.vmdk@/p1",
		"file /vm2/vm2.vmdk@/p1/home/alice/notes.txt partition p1 (Linux), ext4 -> \n",
	} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("guests list lacks %q:\n%s", want, got)
		}
	}
	// The disks open into their NAME.vmdk@, as in a VM's menu.
	disks, err := w.List(ctx, FilterDisks, "")
	if err != nil || len(disks) != 2 || disks[0].Folder != "/vm2/vm2.vmdk@" || disks[1].Folder != "/vm2/vm2_1.vmdk@" {
		t.Errorf("disks: %v %+v", err, disks)
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

// runGuestAnswers runs the wizard from an answers file, checks that it
// exported n files, and returns what it told.
func runGuestAnswers(t *testing.T, answers string, n int) string {
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
	return screen.String()
}

// The menus from the answers file: the VM, its disks, the first disk's
// partition with its file system and state, its folders, one file
// selected by name; the export writes it at its path through the layers
// and the manifest records that path. The second disk's partition says it
// holds no file system.
func TestRunAnswersGuestMenus(t *testing.T) {
	img := guestDatastore(t)
	out := filepath.Join(t.TempDir(), "out")
	screen := runGuestAnswers(t, `{"sources": [`+quote(img)+`], "filter": "vms",
		"open": ["vm2", "vm2_1.vmdk", "..", "vm2.vmdk", "p1", "home/alice"], "select": ["report.txt"],
		"destination": {"local": `+quote(out)+`}}`, 1)
	for _, want := range []string{
		"open /vm2: 3 item(s)\n" +
			"  disk        8 MiB  /vm2/vm2.vmdk  (8 MiB virtual disk, 1 link(s), 2 file(s))\n" +
			"  disk        2 MiB  /vm2/vm2_1.vmdk  (2 MiB virtual disk, 1 link(s), 2 file(s))\n" +
			"  file         82 B  /vm2/vm2.vmx\n",
		"open /vm2/vm2_1.vmdk@: 1 item(s)\n  volume      1 MiB  /vm2/vm2_1.vmdk@/p1  (partition p1 (NTFS/exFAT), no file system recognised; o shows how to copy it out)\n",
		"open /vm2/vm2.vmdk@: 1 item(s)\n  volume      7 MiB  /vm2/vm2.vmdk@/p1  (partition p1 (Linux), ext4, readable)\n",
		"open /vm2/vm2.vmdk@/p1: 2 item(s)\n  folder ",
		"open /vm2/vm2.vmdk@/p1/home/alice: 2 item(s)\n",
		"  file          6 B  /vm2/vm2.vmdk@/p1/home/alice/notes.txt  (partition p1 (Linux), ext4)\n",
		"selected: /vm2/vm2.vmdk@/p1/home/alice/report.txt\n",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("output lacks %q:\n%s", want, screen)
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "vm2/vm2.vmdk@/p1/home/alice/report.txt")); err != nil || string(b) != "quarterly numbers\n" {
		t.Errorf("exported report.txt: %v %q", err, b)
	}
	man, err := os.ReadFile(filepath.Join(out, export.ManifestName))
	if err != nil || !strings.Contains(string(man), `"source":"vm2/vm2.vmdk@/p1/home/alice/report.txt","dest":"vm2/vm2.vmdk@/p1/home/alice/report.txt"`) {
		t.Errorf("manifest lacks the path through the layers: %v\n%s", err, man)
	}
}

// Enter and Up walk the levels: up from a partition is its disk, from a
// disk its VM, from the folder opened from the list the list; the open
// folder is saved, and a resumed wizard shows it again.
func TestEnterUp(t *testing.T) {
	state := filepath.Join(t.TempDir(), "wizard.json")
	w := walkTo(t, guestDatastore(t), "", StepBrowse, Options{StatePath: state})
	ctx := context.Background()
	if _, err := w.Up(ctx); err == nil {
		t.Error("Up from the list did not fail")
	}
	if _, err := w.Enter(ctx, "/vm2/vm2.vmx"); err == nil {
		t.Error("a file was entered")
	}
	items, err := w.Enter(ctx, "/vm2/vm2.vmdk@/p1/home")
	if err != nil || len(items) != 1 || items[0].Path != "/vm2/vm2.vmdk@/p1/home/alice" || items[0].Kind != "folder" {
		t.Fatalf("Enter home: %v %+v", err, items)
	}
	if st := w.State(); st.Folder != "vm2/vm2.vmdk@/p1/home" || st.Top != st.Folder {
		t.Errorf("folder %q top %q", st.Folder, st.Top)
	}
	// Up from the top: the list. Then from the VM down and up again.
	if items, err = w.Up(ctx); err != nil || w.State().Folder != "" || len(items) == 0 {
		t.Fatalf("Up from the top: %v, folder %q", err, w.State().Folder)
	}
	for _, dir := range []string{"/vm2", "/vm2/vm2.vmdk@", "/vm2/vm2.vmdk@/p1"} {
		if _, err := w.Enter(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	if w.State().Top != "vm2" {
		t.Errorf("top %q, want vm2", w.State().Top)
	}
	r, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	screen, err := runTerminal(t, r, "q\n")
	if !errors.Is(err, ErrQuit) || !strings.Contains(screen, "In /vm2/vm2.vmdk@/p1 (.. goes up): 2 item(s)") {
		t.Errorf("resumed: %v\n%s", err, screen)
	}
	for _, want := range []string{"vm2/vm2.vmdk@", "vm2", ""} {
		if _, err := w.Up(ctx); err != nil || w.State().Folder != want {
			t.Fatalf("Up: %v, folder %q, want %q", err, w.State().Folder, want)
		}
	}

	// A saved folder that is gone: the list, once.
	if _, err := w.Enter(ctx, "/vm2/vm2.vmdk@/p1/home"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(state)
	os.WriteFile(state, []byte(strings.ReplaceAll(string(b), "p1/home", "p1/gone")), 0o600)
	r2, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	screen, err = runTerminal(t, r2, "q\n")
	if !errors.Is(err, ErrQuit) || strings.Count(screen, "error:") != 1 || !strings.Contains(screen, "Filter all: ") {
		t.Errorf("resumed in a folder gone: %v\n%s", err, screen)
	}
}

// The menus typed: the VM list, a VM's disks, a disk's partitions, a
// folder, a file selected by number, then up to the list, which marks
// nothing of the VM as selected as a whole; a search across all guests
// finds the file again, selected.
func TestTerminalGuestMenus(t *testing.T) {
	img := guestDatastore(t)
	dir := filepath.Join(t.TempDir(), "recovered")
	w := New(Options{})
	defer w.Close()
	input := strings.Join([]string{
		"", "", // quick scan, the only volume: the VM list
		"o 1", // vm2: its disks
		"o 1", // vm2.vmdk: its partitions
		"o 1", // p1: its folders
		"o 9", // out of range
		"o home/alice",
		"o 1",                        // a file
		"2",                          // select report.txt
		"..", "..", "..", "..", "..", // home, p1, the disk, the VM, the list
		"f guests", "/report",
		"d", "1", dir, "y", "",
	}, "\n") + "\n"
	screen, err := runTerminal(t, w, input, img)
	if err != nil || w.Step() != StepDone {
		t.Fatalf("%v at %s\n%s", err, w.Step(), screen)
	}
	for _, want := range []string{
		"In /vm2 (.. goes up): 3 item(s)",
		"[ ] disk        8 MiB  /vm2/vm2.vmdk  (8 MiB virtual disk, 1 link(s), 2 file(s))",
		"In /vm2/vm2.vmdk@ (.. goes up): 1 item(s)",
		"[ ] volume      7 MiB  /vm2/vm2.vmdk@/p1  (partition p1 (Linux), ext4, readable)",
		"In /vm2/vm2.vmdk@/p1 (.. goes up): 2 item(s)",
		"o needs an item number from 1 to 2",
		"In /vm2/vm2.vmdk@/p1/home/alice (.. goes up): 2 item(s)",
		"item 1 is a file, nothing to open (p 1 previews it)",
		"Selected: /vm2/vm2.vmdk@/p1/home/alice/report.txt",
		"Filter vms: 1 item(s)",
		`Filter guests, search "report": 1 item(s)`,
		"[x] file         18 B  /vm2/vm2.vmdk@/p1/home/alice/report.txt",
		"Verify:      OK, 1 file(s)",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if n := strings.Count(screen, "Filter vms: 1 item(s)"); n != 2 {
		t.Errorf("the VM list shown %d times, want 2 (at the start, and up from the VM)", n)
	}
	if t.Failed() {
		t.Log(screen)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "vm2/vm2.vmdk@/p1/home/alice/report.txt")); err != nil || string(b) != "quarterly numbers\n" {
		t.Errorf("exported: %v %q", err, b)
	}
}

// A VM's disk as the source: the terminal starts at its partitions, and
// .. leads to the list of every file.
func TestTerminalGuestDiskSource(t *testing.T) {
	img := guestDatastore(t)
	flat := filepath.Join(filepath.Dir(img), "vm2-flat.vmdk")
	w := New(Options{})
	defer w.Close()
	screen, err := runTerminal(t, w, "\n\n..\nq\n", flat)
	if !errors.Is(err, ErrQuit) {
		t.Fatalf("%v\n%s", err, screen)
	}
	for _, want := range []string{
		"In / (.. goes up): 1 item(s)",
		"[ ] volume      7 MiB  /p1  (partition p1 (Linux), ext4, readable)",
		"Filter all: 2 item(s)",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
}

// A VM whose disk is an LVM2 physical volume: the disk's menu lists the
// partition as such and the logical volume beside it (the lvm folder and
// the volume group listed through), up from the logical volume is the
// disk, and a file inside exports at its path through the layers.
func TestEnterLogicalVolume(t *testing.T) {
	dir := t.TempDir()
	flat := filepath.Join(dir, "vm3-flat.vmdk")
	os.WriteFile(flat, nil, 0o644)
	os.Truncate(flat, 48<<20)
	src := filepath.Join(dir, "src", "srv", "www")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>up</h1>\n"), 0o644)
	vg, _ := guesttest.LVMDisks(t, []string{flat}, 40<<20, filepath.Join(dir, "src"))
	data, _ := os.ReadFile(flat)
	img := filepath.Join(dir, "ds.img")
	if _, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "lvm", Files: []vmfstest.Entry{
		{Path: "vm3/vm3.vmx", Data: []byte("displayName = \"vm3\"\nscsi0:0.fileName = \"vm3.vmdk\"\n")},
		{Path: "vm3/vm3.vmdk", Data: guesttest.Descriptor("vm3-flat.vmdk", 48<<20)},
		{Path: "vm3/vm3-flat.vmdk", Data: data, Thin: true},
	}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	screen := runGuestAnswers(t, `{"sources": [`+quote(img)+`], "filter": "vms",
		"open": ["vm3", "vm3.vmdk", "data", "srv", "..", "..", "data", "srv/www"], "select": ["index.html"],
		"destination": {"local": `+quote(out)+`}}`, 1)
	for _, want := range []string{
		"open /vm3/vm3.vmdk@: 2 item(s)\n" +
			"  volume     47 MiB  /vm3/vm3.vmdk@/p1  (partition p1 (Linux LVM), LVM2, physical volume: its logical volumes are listed after the partitions)\n" +
			"  volume     40 MiB  /vm3/vm3.vmdk@/lvm/" + vg + "/data  (LV " + vg + "/data, ext4, readable)\n",
		"open /vm3/vm3.vmdk@/lvm/" + vg + "/data/srv: 1 item(s)\n",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("output lacks %q:\n%s", want, screen)
		}
	}
	if n := strings.Count(screen, "open /vm3/vm3.vmdk@: 2 item(s)"); n != 2 {
		t.Errorf("up from the logical volume: the disk's menu shown %d times, want 2:\n%s", n, screen)
	}
	p := filepath.Join(out, "vm3/vm3.vmdk@/lvm", vg, "data/srv/www/index.html")
	if b, err := os.ReadFile(p); err != nil || string(b) != "<h1>up</h1>\n" {
		t.Errorf("exported index.html: %v %q", err, b)
	}
}

// A partition whose file system is recognised but does not open (ext4
// with an absurd block size written into its superblock): the disk's menu
// says it is unreadable and what its reader says.
func TestEnterUnreadableVolume(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	disk := filepath.Join(dir, "bad.raw")
	guesttest.Ext4Disk(t, disk, 8<<20, filepath.Join(dir, "src"))
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff, 0, 0, 0}, guesttest.PartitionStart+1024+24) // s_log_block_size
	f.Close()
	w := walkTo(t, disk, "", StepBrowse, Options{})
	items, err := w.Enter(context.Background(), ".")
	want := "volume      7 MiB  /p1  (partition p1 (Linux), ext4, UNREADABLE: ext: ext superblock at offset 0x400: block size 1024<<255)"
	if err != nil || len(items) != 1 || items[0].line() != want {
		t.Errorf("Enter: %v %+v, want %s", err, items, want)
	}
}

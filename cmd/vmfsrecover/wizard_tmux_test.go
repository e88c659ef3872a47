package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// tmuxSession is the real binary running in a real terminal: tmux on its
// own server socket in the test's temporary folder, so that nothing else
// running tmux is touched and no socket is left behind.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func startTmux(t *testing.T, command string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock"), name: "wizard"}
	s.tmux("new-session", "-d", "-s", s.name, "-x", "220", "-y", "50", command)
	t.Cleanup(func() { exec.Command("tmux", "-S", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is the whole pane with its history, wrapped lines joined.
func (s *tmuxSession) screen() string {
	return s.tmux("capture-pane", "-p", "-J", "-S", "-5000", "-t", s.name)
}

// expect waits until text appears at least n times on the screen.
func (s *tmuxSession) expect(text string, n int) {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		sc := s.screen()
		if strings.Count(sc, text) >= n {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waited 90 s for %q (x%d); screen:\n%s", text, n, sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeLine types text and Enter, as a person would.
func (s *tmuxSession) typeLine(text string) {
	s.t.Helper()
	if text != "" {
		s.tmux("send-keys", "-t", s.name, "-l", text)
	}
	s.tmux("send-keys", "-t", s.name, "Enter")
}

// exportTo goes on from browse with the selection (d), exports it to the
// local folder out, confirms, finishes, and waits for the wizard to end.
func (s *tmuxSession) exportTo(out string) {
	s.t.Helper()
	s.typeLine("d")
	s.expect("Destination [1]:", 1)
	s.typeLine("")
	s.expect("Folder", 1)
	s.typeLine(out)
	s.expect("Start the export? [y/N]", 1)
	s.typeLine("y")
	s.expect("Enter: finish", 1)
	s.typeLine("")
	s.expect("EXIT=0", 1)
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vmfsrecover")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestWizardTmux drives the real binary in a real terminal through a full
// recovery of a generated volume to a local folder: typed sources, quick
// scan, the volume, a preview, a selection by number, the folder, confirm,
// the report. It then leaves a second wizard half-way with q, resumes it
// with --resume and finishes the same recovery (every file found complete).
func TestWizardTmux(t *testing.T) {
	testenv.Tool(t, "tmux")
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "datastore.img")
	res, err := vmfstest.Write(img, vmfstest.Spec{Version: 5, Label: "tmux-ds", Files: []vmfstest.Entry{
		{Path: "web01/web01.vmx", Data: []byte("displayName = \"web01\"\nguestOS = \"debian12-64\"\nnumvcpus = \"2\"\nmemSize = \"1024\"\nscsi0:0.fileName = \"web01.vmdk\"\nethernet0.virtualDev = \"vmxnet3\"\nethernet0.networkName = \"VM Network\"\n")},
		{Path: "web01/web01.vmdk", Data: []byte(previewVMDK[:strings.Index(previewVMDK, "RW")] + "RW 8192 VMFS \"web01-flat.vmdk\"\n")},
		{Path: "web01/web01-flat.vmdk", Size: 4 << 20, Seed: 11, Thin: true, Holes: []vmfstest.Range{{Off: 1 << 20, Len: 2 << 20}}},
		{Path: "web01/vmware.log", Size: 3000, Seed: 12},
		{Path: "db01/db01.vmx", Data: []byte("displayName = \"db01\"\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	out := filepath.Join(dir, "recovered")
	state := filepath.Join(dir, "state.json")
	cmd := fmt.Sprintf("%s wizard --state %s; echo EXIT=$?; sleep 600", bin, state)

	s := startTmux(t, cmd)
	s.expect("Source(s)", 1)
	s.typeLine(img)
	s.expect("Scan [1]:", 1)
	s.typeLine("")
	s.expect("Volume number [1]:", 1)
	s.typeLine("")
	s.expect("Command (? for help", 1)
	if sc := s.screen(); !strings.Contains(sc, "/db01") || !strings.Contains(sc, "/web01") {
		t.Fatalf("VM list:\n%s", sc)
	}
	s.typeLine("p 2") // web01, sorted after db01
	s.expect("Enter: back to the list", 1)
	if sc := s.screen(); !strings.Contains(sc, `Virtual machine "web01"`) || !strings.Contains(sc, "debian12-64") {
		t.Fatalf("preview:\n%s", sc)
	}
	s.typeLine("")
	s.expect("Command (? for help", 2)
	s.typeLine("2")
	s.expect("Command (? for help", 3)
	if sc := s.screen(); !strings.Contains(sc, "Selected: /web01") {
		t.Fatalf("selection:\n%s", sc)
	}
	s.exportTo(out)
	sc := s.screen()
	for _, want := range []string{"Exported:    4 file(s) now", "Verify:      OK, 4 file(s)", "Done."} {
		if !strings.Contains(sc, want) {
			t.Errorf("screen lacks %q:\n%s", want, sc)
		}
	}
	for _, name := range []string{"/web01/web01.vmx", "/web01/web01.vmdk", "/web01/web01-flat.vmdk", "/web01/vmware.log"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		want, err := res.Lookup(name).SHA256()
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s: recovered content differs", name)
		}
	}
	if _, err := os.Stat(filepath.Join(out, export.ManifestName)); err != nil {
		t.Error(err)
	}

	// Leave half-way with q, then resume and finish.
	s2 := startTmux(t, fmt.Sprintf("%s wizard --state %s %s; echo EXIT=$?; %s wizard --state %s --resume; echo EXIT=$?; sleep 600", bin, state, img, bin, state))
	s2.expect("Scan [1]:", 1)
	s2.typeLine("")
	s2.expect("Volume number [1]:", 1)
	s2.typeLine("1")
	s2.expect("Command (? for help", 1)
	s2.typeLine("1 2")
	s2.expect("Command (? for help", 2)
	s2.typeLine("q")
	s2.expect("EXIT=5", 1)
	s2.expect("Command (? for help", 3) // resumed at browse, the selection kept
	if sc := s2.screen(); !strings.Contains(sc, "Selected: /db01, /web01") {
		t.Fatalf("resumed selection:\n%s", sc)
	}
	s2.typeLine("d")
	s2.expect("Destination [1]:", 1)
	s2.typeLine("")
	s2.expect("Folder", 1)
	s2.typeLine(out)
	s2.expect("Start the export? [y/N]", 1)
	s2.typeLine("y")
	s2.expect("Enter: finish", 1)
	if sc := s2.screen(); !strings.Contains(sc, "Exported:    1 file(s) now, 4 already complete") {
		t.Errorf("second run:\n%s", sc)
	}
	s2.typeLine("")
	s2.expect("EXIT=0", 1)
	if _, err := os.Stat(filepath.Join(out, "db01", "db01.vmx")); err != nil {
		t.Error(err)
	}

	// Ctrl-C at a prompt: interrupted, state kept, exit 130.
	s3 := startTmux(t, fmt.Sprintf("%s wizard --state %s --restart %s; echo EXIT=$?; sleep 600", bin, state, img))
	s3.expect("Scan [1]:", 1)
	s3.tmux("send-keys", "-t", s3.name, "C-c")
	s3.expect("EXIT=130", 1)
	if sc := s3.screen(); !strings.Contains(sc, "Interrupted; the wizard is saved in "+state) {
		t.Errorf("Ctrl-C:\n%s", sc)
	}
}

// TestWizardTmuxDeep: the real binary on a volume whose LVM header is
// zeroed. The quick scan finds nothing, Enter takes the offered deep scan
// (its progress on the terminal), and the deleted file is recovered.
func TestWizardTmuxDeep(t *testing.T) {
	testenv.Tool(t, "tmux")
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "damaged.img")
	if _, err := vmfstest.Write(img, vmfstest.Spec{Version: 5, Label: "damaged", Files: []vmfstest.Entry{
		{Path: "vm/vm.vmx", Data: []byte("displayName = \"vm\"\n")},
		{Path: "vm/notes.txt", Data: []byte("recover me\n"), Deleted: true},
	}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bin := buildBinary(t)
	out := filepath.Join(dir, "recovered")
	s := startTmux(t, fmt.Sprintf("%s wizard --state %s %s; echo EXIT=$?; sleep 600", bin, filepath.Join(dir, "state.json"), img))
	s.expect("Scan [1]:", 1)
	s.typeLine("")
	s.expect("Scan [2]:", 1)
	s.typeLine("")
	s.expect("Volume number [1]:", 1)
	if sc := s.screen(); !strings.Contains(sc, "rebuilt from "+img) || !strings.Contains(sc, "deleted") {
		t.Fatalf("deep scan:\n%s", sc)
	}
	s.typeLine("")
	s.expect("Command (? for help", 1)
	s.typeLine("f deleted")
	s.expect("Filter deleted: 1 item(s)", 1)
	s.typeLine("1")
	s.expect("Command (? for help", 3)
	s.exportTo(out)
	var found []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); string(b) == "recover me\n" {
				found = append(found, p)
			}
		}
		return nil
	})
	if len(found) != 1 {
		t.Errorf("the deleted file was not recovered: %q\n%s", found, s.screen())
	}
	if _, err := os.Stat(filepath.Join(dir, ".vmfsrecover")); err != nil {
		t.Errorf("no scan file beside the state: %v", err)
	}
}

// TestWizardTmuxGuestMenus: the real binary in a real terminal goes from
// the VM list into the VM, its disk, the disk's partition and a folder,
// selects a file there, finds another by a search across all guests, and
// exports both at their paths through the layers, as the manifest says.
func TestWizardTmuxGuestMenus(t *testing.T) {
	testenv.Tool(t, "tmux")
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	raw, sums := guestDisk(t)
	ds := guestDatastore(t, raw)
	bin := buildBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "recovered")
	s := startTmux(t, fmt.Sprintf("%s wizard --state %s %s; echo EXIT=$?; sleep 600", bin, filepath.Join(dir, "state.json"), ds))
	s.expect("Scan [1]:", 1)
	s.typeLine("")
	s.expect("Volume number [1]:", 1)
	s.typeLine("")
	s.expect("Filter vms: 1 item(s)", 1)
	steps := []struct{ typed, shown string }{
		{"o 1", "In /vm1 (.. goes up): 2 item(s)"},
		{"o 1", "(partition p1 (Linux), ext4, readable)"},
		{"o 1", "In /vm1/vm1.vmdk@/p1 (.. goes up)"},
		{"o etc", "In /vm1/vm1.vmdk@/p1/etc (.. goes up): 1 item(s)"},
		{"1", "Selected: /vm1/vm1.vmdk@/p1/etc/hostname"},
		{"..", "In /vm1/vm1.vmdk@/p1 (.. goes up)"},
		{"f guests", "Filter guests:"},
		{"/notes", `Filter guests, search "notes": 1 item(s)`},
		{"1", "Selected: /vm1/vm1.vmdk@/p1/etc/hostname, /vm1/vm1.vmdk@/p1/home/u/notes.txt"},
	}
	for _, st := range steps {
		s.typeLine(st.typed)
		s.expect(st.shown, 1)
	}
	if sc := s.screen(); !strings.Contains(sc, "/vm1/vm1.vmdk  (") || !strings.Contains(sc, "[ ] volume") {
		t.Errorf("the VM's disk or the disk's partition not listed:\n%s", sc)
	}
	s.exportTo(out)
	for p, sum := range sums {
		b, err := os.ReadFile(filepath.Join(out, "vm1/vm1.vmdk@", p))
		got := sha256.Sum256(b)
		if err != nil || hex.EncodeToString(got[:]) != sum {
			t.Errorf("exported %s: %v, or other bytes", p, err)
		}
	}
	man, _ := os.ReadFile(filepath.Join(out, export.ManifestName))
	for p := range sums {
		if !strings.Contains(string(man), `"source":"vm1/vm1.vmdk@`+p+`"`) {
			t.Errorf("manifest lacks %s:\n%s", p, man)
		}
	}
}

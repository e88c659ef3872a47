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

func runTerminal(t *testing.T, w *Wizard, input string, sources ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	term := &Terminal{In: strings.NewReader(input), Out: &out, Sources: sources, PageSize: 3}
	err := term.Run(context.Background(), w)
	return out.String(), err
}

// TestTerminalFullRecovery types a whole recovery: filters, search, pages,
// preview, selection by numbers, a local folder, confirm, report.
func TestTerminalFullRecovery(t *testing.T) {
	img, _ := testVolume(t)
	dir := filepath.Join(t.TempDir(), "recovered")
	input := strings.Join([]string{
		`"` + img + `"`, // sources, quoted
		"",              // quick scan
		"",              // the only volume
		"f all",         // 8 files on 3 pages
		">",             // page 2
		"/vmx",          // search
		"p 1",           // preview /vm1/vm1.vmx
		"",              // back to the list
		"/",             // no search
		"f vms",         // vm1, vm2
		"1",             // select vm1
		"2 2",           // select vm2, then unselect it
		"d",             // done
		"1",             // local folder
		dir,
		"y", // start
		"",  // finish
	}, "\n") + "\n"
	w := New(Options{})
	defer w.Close()
	out, err := runTerminal(t, w, input)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if w.Step() != StepDone || !slices.Equal(w.State().Selected, []string{"vm1"}) {
		t.Errorf("ended at %s with %q", w.Step(), w.State().Selected)
	}
	for _, s := range []string{
		"[1/9] Sources", `1: "wizard-ds" VMFS6`, "Filter all: 8 item(s)", "page 2 of 3", `Filter all, search "vmx": 2 item(s)`,
		`Virtual machine "Web One"`, "[5/9] Preview", "Filter vms: 2 item(s)", "[x] vm          2 MiB  /vm1  (Web One, 1 disk(s) complete)", "Space:", "Verify:      OK, 4 file(s)", "Done.",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	if _, err := os.Stat(filepath.Join(dir, "vm1", "vm1-flat.vmdk")); err != nil {
		t.Error(err)
	}
}

// TestTerminalQuitResumeCancel leaves at the browse step, resumes from the
// saved state, goes back, and cancels.
func TestTerminalQuitResumeCancel(t *testing.T) {
	img, _ := testVolume(t)
	state := filepath.Join(t.TempDir(), "wizard.json")
	w := New(Options{StatePath: state})
	out, err := runTerminal(t, w, "\n\nbogus\n1\nq\n", img)
	w.Close()
	if !errors.Is(err, ErrQuit) || w.Step() != StepBrowse {
		t.Fatalf("quit: %v at %s\n%s", err, w.Step(), out)
	}
	if !strings.Contains(out, `"bogus" is not an item number`) {
		t.Errorf("bad command not explained:\n%s", out)
	}
	r, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !slices.Equal(r.State().Selected, []string{"vm1"}) {
		t.Errorf("selection not saved: %q", r.State().Selected)
	}
	out, err = runTerminal(t, r, "?\nb\nb\nc\nn\nc\ny\n")
	if err != nil || r.Step() != StepCancelled {
		t.Fatalf("cancel: %v at %s\n%s", err, r.Step(), out)
	}
	if !strings.Contains(out, "[3/9] Choose a volume") || !strings.Contains(out, "[2/9] Scan") || !strings.Contains(out, "Recovery cancelled.") || !strings.Contains(out, "f FILTER") {
		t.Errorf("output:\n%s", out)
	}
	st, err := LoadState(state)
	if err != nil || st.Step != StepCancelled {
		t.Errorf("saved: %v %+v", err, st)
	}
	// End of input is leaving, too.
	w2 := New(Options{})
	defer w2.Close()
	if _, err := runTerminal(t, w2, ""); !errors.Is(err, ErrQuit) {
		t.Errorf("EOF: %v", err)
	}
}

// TestTerminalNothingFound: a quick scan that finds nothing offers the
// deep scan as the default; on zeros it finds nothing either.
func TestTerminalNothingFound(t *testing.T) {
	zeros := filepath.Join(t.TempDir(), "zeros.img")
	os.WriteFile(zeros, make([]byte, 1<<20), 0o644)
	w := New(Options{ScanDir: t.TempDir()})
	defer w.Close()
	out, err := runTerminal(t, w, "1\n\nq\n", zeros)
	if !errors.Is(err, ErrQuit) || w.Step() != StepScan {
		t.Fatalf("%v at %s", err, w.Step())
	}
	if !strings.Contains(out, "no VMFS volume found") || !strings.Contains(out, "Scan [2]") || !strings.Contains(out, "the deep scan of "+zeros+" found no VMFS metadata") {
		t.Errorf("output:\n%s", out)
	}
}

func TestTerminalCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, wr, _ := os.Pipe()
	defer wr.Close()
	w := New(Options{})
	term := &Terminal{In: r, Out: &strings.Builder{}}
	done := make(chan error)
	go func() { done <- term.Run(ctx, w) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestParseNumbersAndWords(t *testing.T) {
	n, err := parseNumbers("1 3,5-7", 7)
	if err != nil || !slices.Equal(n, []int{1, 3, 5, 6, 7}) {
		t.Errorf("%v %v", n, err)
	}
	for _, bad := range []string{"0", "8", "3-1", "x", "1-x"} {
		if _, err := parseNumbers(bad, 7); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	words, err := splitWords(`a "b c" 'd\e' f\ g`)
	if err != nil || !slices.Equal(words, []string{"a", "b c", `d\e`, "f g"}) {
		t.Errorf("%q %v", words, err)
	}
	if _, err := splitWords(`"open`); err == nil {
		t.Errorf("open quote accepted")
	}
}

// TestTerminalDeepScan: the quick scan finds nothing on a volume without
// its LVM header, Enter takes the offered deep scan, and the deleted
// filter recovers the deleted file.
func TestTerminalDeepScan(t *testing.T) {
	img := damagedVolume(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	w := New(Options{ScanDir: dir})
	defer w.Close()
	screen, err := runTerminal(t, w, strings.Join([]string{"", "", "", "f deleted", "1", "d", "", out, "y", ""}, "\n")+"\n", img)
	if err != nil || w.Step() != StepDone {
		t.Fatalf("%v at %s\n%s", err, w.Step(), screen)
	}
	for _, s := range []string{"no VMFS volume found", "Scan [2]", "rebuilt from " + img, "Filter deleted: 1 item(s)", "deleted", "Verify:      OK, 1 file(s)"} {
		if !strings.Contains(screen, s) {
			t.Errorf("output lacks %q:\n%s", s, screen)
		}
	}
	files, _ := filepath.Glob(filepath.Join(out, "old", "fd-*"))
	if len(files) != 1 {
		t.Fatalf("recovered %q", files)
	}
	if b, _ := os.ReadFile(files[0]); string(b) != "deleted" {
		t.Errorf("content %q", b)
	}
}

func TestLocalDisks(t *testing.T) {
	sys := t.TempDir()
	for name, size := range map[string]string{"sda": "1953525168\n", "loop0": "2048\n", "sr0": "0\n", "nvme0n1": "1000215216\n"} {
		os.MkdirAll(filepath.Join(sys, name, "device"), 0o755)
		os.WriteFile(filepath.Join(sys, name, "size"), []byte(size), 0o644)
	}
	os.WriteFile(filepath.Join(sys, "sda", "device", "model"), []byte("WDC WD10EZEX  \n"), 0o644)
	got := localDisks(sys)
	want := []string{"/dev/nvme0n1  476.9 GiB", "/dev/sda  931.5 GiB  WDC WD10EZEX"}
	if !slices.Equal(got, want) {
		t.Errorf("localDisks = %q, want %q", got, want)
	}
	if localDisks(filepath.Join(sys, "none")) != nil {
		t.Errorf("a missing sysfs lists disks")
	}
}

// TestTerminalLongLine: a line past the bound is refused and the prompt
// asks again; memory does not follow the input.
func TestTerminalLongLine(t *testing.T) {
	img, _ := testVolume(t)
	w := New(Options{})
	defer w.Close()
	input := strings.Repeat("x", 3*maxLine) + "\n\n" + strings.Repeat("y", maxLine+1) + "\nq\n"
	out, err := runTerminal(t, w, input, img)
	if !errors.Is(err, ErrQuit) || w.Step() != StepVolume {
		t.Fatalf("%v at %s\n%s", err, w.Step(), out)
	}
	if strings.Count(out, "input line longer than") != 2 {
		t.Errorf("output:\n%s", out)
	}
}

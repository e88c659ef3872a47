package wizard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestResumeFromAnotherFolder: sources given relative to one folder are
// saved absolute, so a wizard resumed from another folder opens them.
func TestResumeFromAnotherFolder(t *testing.T) {
	img, _ := testVolume(t)
	state := filepath.Join(t.TempDir(), "wizard.json")
	t.Chdir(filepath.Dir(img))
	w := New(Options{StatePath: state})
	ctx := context.Background()
	if err := w.SetSources([]string{filepath.Base(img)}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(ctx, ScanQuick); err != nil {
		t.Fatal(err)
	}
	if err := w.ChooseVolume(ctx, 1); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Chdir(t.TempDir())
	r, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.State().Sources; len(got) != 1 || got[0] != img {
		t.Errorf("saved sources %q, want %q", got, img)
	}
	if _, err := r.List(ctx, FilterAll, ""); err != nil {
		t.Errorf("resumed elsewhere: %v", err)
	}
}

// TestTerminalBackKeepsSources: b from the scan step shows the sources
// given, and Enter keeps them (names with spaces too); ~ is the home folder.
func TestTerminalBackKeepsSources(t *testing.T) {
	img, _ := testVolume(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	spaced := filepath.Join(home, "my disk.img")
	if err := os.Rename(img, spaced); err != nil {
		t.Fatal(err)
	}
	w := New(Options{})
	defer w.Close()
	out, err := runTerminal(t, w, "'~/my disk.img'\nb\n\n\n\nq\n")
	if !errors.Is(err, ErrQuit) || w.Step() != StepBrowse {
		t.Fatalf("%v at %s\n%s", err, w.Step(), out)
	}
	if want := fmt.Sprintf(`[%q]: `, spaced); !strings.Contains(out, want) {
		t.Errorf("the sources prompt after b does not offer %s:\n%s", want, out)
	}
	if got := w.State().Sources; len(got) != 1 || got[0] != spaced {
		t.Errorf("sources %q", got)
	}
}

// TestTerminalBadFolderAsksAgain: a folder that cannot be one is asked for
// again (not the choice of local or FTP); ~ is the home folder; nothing is
// created before the export is confirmed, nor when the person leaves there.
func TestTerminalBadFolderAsksAgain(t *testing.T) {
	img, _ := testVolume(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	file := filepath.Join(home, "a-file")
	os.WriteFile(file, nil, 0o644)
	w := New(Options{})
	defer w.Close()
	input := strings.Join([]string{"", "", "1", "d", "1", file, file + "/sub", "~/out/new", "q"}, "\n") + "\n"
	out, err := runTerminal(t, w, input, img)
	if !errors.Is(err, ErrQuit) || w.Step() != StepConfirm {
		t.Fatalf("%v at %s\n%s", err, w.Step(), out)
	}
	if n := strings.Count(out, "Folder (created when the export starts): "); n != 3 {
		t.Errorf("folder asked %d times, want 3:\n%s", n, out)
	}
	if n := strings.Count(out, "Destination [1]: "); n != 1 {
		t.Errorf("destination kind asked %d times, want 1:\n%s", n, out)
	}
	if d := w.State().Destination; d == nil || d.Dir != filepath.Join(home, "out", "new") {
		t.Errorf("destination %+v", d)
	}
	if _, err := os.Stat(filepath.Join(home, "out")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the folder exists before the export was confirmed: %v", err)
	}
}

// TestDestinationCreatedOnlyByExport: the destination folder appears when
// the export runs, not at the destination or confirm step.
func TestDestinationCreatedOnlyByExport(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	w := walkTo(t, img, dir, StepExport, Options{})
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("created before the export: %v", err)
	}
	if _, err := w.Export(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "vm1", "vm1.vmx")); err != nil {
		t.Error(err)
	}
}

// TestTerminalPagedPreview: a preview longer than the screen is shown a
// screen at a time, its header first and repeated on the next page; x
// stops it.
func TestTerminalPagedPreview(t *testing.T) {
	var text strings.Builder
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&text, "line %d\n", i)
	}
	img := filepath.Join(t.TempDir(), "notes.img")
	if _, err := vmfstest.Write(img, vmfstest.Spec{Version: 5, Label: "notes", Files: []vmfstest.Entry{
		{Path: "notes/long.txt", Data: []byte(text.String())},
	}}); err != nil {
		t.Fatal(err)
	}
	w := New(Options{})
	defer w.Close()
	var out strings.Builder
	term := &Terminal{In: strings.NewReader("\n\np 1\n\nx\n\nq\n"), Out: &out, Sources: []string{img}, ScreenLines: 20}
	if err := term.Run(context.Background(), w); !errors.Is(err, ErrQuit) {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	head := s[strings.Index(s, "/notes/long.txt  (text"):]
	first := strings.SplitN(head, "\n", 20)
	if !strings.HasPrefix(first[19], "-- lines 1-19 of ") {
		t.Errorf("first page is not 19 lines then the prompt:\n%s", head)
	}
	if !strings.Contains(s, "(continued) /notes/long.txt  (text") || !strings.Contains(s, "-- lines 20-37 of ") {
		t.Errorf("second page without its header:\n%s", s)
	}
	if strings.Contains(s, "line 200\n") {
		t.Errorf("the whole text was shown although x stopped it:\n%s", s)
	}
}

// TestExportProgressLabels: the export and the verification each get a
// progress display named for what it does.
func TestExportProgressLabels(t *testing.T) {
	img, _ := testVolume(t)
	w := walkTo(t, img, t.TempDir(), StepExport, Options{})
	var labels []string
	if _, err := w.Export(context.Background(), func(label string) export.Progress {
		labels = append(labels, label)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labels, []string{"export", "verify"}) {
		t.Errorf("progress labels %q", labels)
	}
}

// TestDeepScanReuseAnnounced: a second deep scan of the same source in
// the wizard reuses the scan file and says so through Options.Notify.
func TestDeepScanReuseAnnounced(t *testing.T) {
	img := damagedVolume(t)
	dir := t.TempDir()
	var events []deepscan.Event
	opts := Options{ScanDir: dir, Notify: func(e deepscan.Event) { events = append(events, e) }}
	for range 2 {
		w := New(opts)
		if err := w.SetSources([]string{img}, false, false); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Scan(context.Background(), ScanDeep); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	if len(events) == 0 || events[len(events)-1].Kind != deepscan.Reused {
		t.Errorf("events %+v, want the last one Reused", events)
	}
}

// TestExportSeveralFilesAtOnce: with the zero Options the wizard exports
// small files several at a time, as the export command does by default
// (export.Options.Workers 0), not one after the other.
func TestExportSeveralFilesAtOnce(t *testing.T) {
	img, _ := testVolume(t)
	w := walkTo(t, img, t.TempDir(), StepExport, Options{})
	p := &overlapProgress{overlap: make(chan struct{})}
	if _, err := w.Export(context.Background(), func(label string) export.Progress {
		if label == "export" {
			return p
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if p.most < 2 {
		t.Errorf("the export copied %d file at a time", p.most)
	}
}

// overlapProgress holds each file's start until a second file is being
// copied (or a while has passed), and counts the most copied at once.
type overlapProgress struct {
	mu           sync.Mutex
	active, most int
	overlap      chan struct{} // closed when two files are copied at once
	overlapped   bool
}

func (p *overlapProgress) Start(int, int64) {}
func (p *overlapProgress) FileStart(string, int64) {
	p.mu.Lock()
	p.active++
	p.most = max(p.most, p.active)
	if p.active == 2 && !p.overlapped {
		p.overlapped = true
		close(p.overlap)
	}
	p.mu.Unlock()
	select {
	case <-p.overlap:
	case <-time.After(2 * time.Second):
	}
}
func (p *overlapProgress) Add(string, int64) {}
func (p *overlapProgress) FileDone(string, string) {
	p.mu.Lock()
	p.active--
	p.mu.Unlock()
}
func (p *overlapProgress) Finish() {}

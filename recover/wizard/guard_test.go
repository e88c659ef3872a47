package wizard

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
)

// The wizard's state file never replaces a source: a state path that is
// the source image (here by a hard link) is refused, naming both.
func TestStateNeverOverwritesASource(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	data := bytes.Repeat([]byte("the only copy "), 1000)
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	if err := os.Link(img, state); err != nil {
		t.Fatal(err)
	}
	w := New(Options{StatePath: state})
	defer w.Close()
	err := w.SetSources([]string{img}, false, false)
	var e *writeguard.Error
	if !errors.As(err, &e) || e.Target != state || e.Source != img {
		t.Errorf("saving the state onto the source: %v, want the guard's refusal naming %s and %s", err, state, img)
	}
	if got, _ := os.ReadFile(img); !bytes.Equal(got, data) {
		t.Fatal("saving the wizard's state replaced its source")
	}
}

// The wizard's export goes through the same guard as the CLI's: with
// overwrite on, a destination file that is the source image (a hard link
// at the path of a file of the volume) stops the export, naming both.
func TestWizardExportNeverOverwritesASource(t *testing.T) {
	img, _ := testVolume(t)
	want := testenv.FileSHA256(t, img)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	target := filepath.Join(out, "vm1", "vmware.log")
	os.MkdirAll(filepath.Dir(target), 0o755)
	if err := os.Link(img, target); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAnswers(strings.NewReader(`{"sources": [` + quote(img) + `], "select": ["/vm1"],
		"destination": {"local": ` + quote(out) + `, "overwrite": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	w := New(Options{StatePath: filepath.Join(dir, "state.json"), ScanDir: dir})
	defer w.Close()
	var report strings.Builder
	_, err = RunAnswers(context.Background(), w, a, &report, nil)
	var e *writeguard.Error
	if !errors.As(err, &e) || e.Target != target || e.Source != img {
		t.Errorf("wizard export onto its source: %v, want the guard's refusal naming %s and %s\n%s", err, target, img, report.String())
	}
	if testenv.FileSHA256(t, img) != want {
		t.Fatal("the wizard's export changed its source")
	}
}

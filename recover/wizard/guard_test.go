package wizard

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

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

package wizard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
)

// save writes the state to Options.StatePath, atomically.
func (w *Wizard) save() error {
	if w.opts.StatePath == "" {
		return nil
	}
	now := time.Now
	if w.opts.Now != nil {
		now = w.opts.Now
	}
	w.st.Updated = now().UTC()
	b, err := json.MarshalIndent(&w.st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(w.opts.StatePath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving wizard state: %w", err)
	}
	f, err := os.CreateTemp(dir, ".wizard-*.tmp")
	if err != nil {
		return fmt.Errorf("saving wizard state: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = writeguard.ForSources(w.st.Sources).Check(w.opts.StatePath)
	}
	if err == nil {
		err = os.Rename(f.Name(), w.opts.StatePath)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("saving wizard state to %s: %w", w.opts.StatePath, err)
	}
	return nil
}

// LoadState reads a saved state. A missing file is ErrNoState; a file that
// is not a state of this format is ErrBadState.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoState, path)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadState, path, err)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadState, path, err)
	}
	return &st, nil
}

// check makes sure a loaded state is one the machine can stand in.
func (st *State) check() error {
	switch {
	case st.Format != stateFormat:
		return fmt.Errorf("format %d, this build reads %d", st.Format, stateFormat)
	case !st.Step.Valid():
		return fmt.Errorf("unknown step %q", st.Step)
	case st.Step != StepSources && len(st.Sources) == 0:
		return fmt.Errorf("step %s without sources", st.Step)
	case st.Volume < 0 || st.Volume > len(st.Volumes):
		return fmt.Errorf("volume %d of %d", st.Volume, len(st.Volumes))
	}
	needVolume := map[Step]bool{StepBrowse: true, StepPreview: true, StepDestination: true, StepConfirm: true, StepExport: true, StepReport: true}
	if needVolume[st.Step] && st.Volume == 0 {
		return fmt.Errorf("step %s without a volume", st.Step)
	}
	if (st.Step == StepConfirm || st.Step == StepExport) && (st.Destination == nil || len(st.Selected) == 0) {
		return fmt.Errorf("step %s without a destination or a selection", st.Step)
	}
	for _, p := range st.Selected {
		if !fs.ValidPath(p) {
			return fmt.Errorf("selected path %q is not a volume path", p)
		}
	}
	for _, p := range []string{st.Folder, st.Top} {
		if p != "" && !fs.ValidPath(p) {
			return fmt.Errorf("open folder %q is not a volume path", p)
		}
	}
	if (st.Folder == "") != (st.Top == "") {
		return fmt.Errorf("open folder %q without the top %q", st.Folder, st.Top)
	}
	return nil
}

// Resume continues the wizard saved at opts.StatePath. Sources and the
// volume are opened again when a step needs them.
func Resume(opts Options) (*Wizard, error) {
	st, err := LoadState(opts.StatePath)
	if err != nil {
		return nil, err
	}
	return &Wizard{st: *st, opts: opts}, nil
}

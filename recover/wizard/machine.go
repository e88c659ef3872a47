package wizard

import (
	"errors"
	"fmt"
)

// Step is where the wizard stands: the step whose input it waits for.
type Step string

// Steps, in the order a recovery goes through them.
const (
	StepSources     Step = "sources"     // which disks, images or VMDKs to read
	StepScan        Step = "scan"        // quick (partition tables, usual offsets) or deep
	StepVolume      Step = "volume"      // which of the volumes found
	StepBrowse      Step = "browse"      // filter, search and select files
	StepPreview     Step = "preview"     // a file shown without exporting it
	StepDestination Step = "destination" // local folder or FTP server, tested
	StepConfirm     Step = "confirm"     // sizes and free space, then go
	StepExport      Step = "export"      // copying, with progress
	StepReport      Step = "report"      // counts, bytes, failures, manifest, verification
	StepDone        Step = "done"        // finished
	StepCancelled   Step = "cancelled"   // abandoned by the person
)

// Steps lists every step in order, the final ones last.
var Steps = []Step{StepSources, StepScan, StepVolume, StepBrowse, StepPreview, StepDestination,
	StepConfirm, StepExport, StepReport, StepDone, StepCancelled}

// forward lists the moves a completed step may make. The scan step may
// repeat (a quick scan found nothing, a deep scan follows); the preview step
// may show another file.
var forward = map[Step][]Step{
	StepSources:     {StepScan},
	StepScan:        {StepScan, StepVolume},
	StepVolume:      {StepBrowse},
	StepBrowse:      {StepPreview, StepDestination},
	StepPreview:     {StepPreview, StepDestination},
	StepDestination: {StepConfirm},
	StepConfirm:     {StepExport},
	StepExport:      {StepReport},
	StepReport:      {StepDone},
}

// prev is where Back leads. Back from the destination returns to browse
// (preview is a look aside, not a station); back from the report returns
// to browse to recover more; back from an interrupted export returns to
// confirm. The first step has nowhere to go back to.
var prev = map[Step]Step{
	StepScan:        StepSources,
	StepVolume:      StepScan,
	StepBrowse:      StepVolume,
	StepPreview:     StepBrowse,
	StepDestination: StepBrowse,
	StepConfirm:     StepDestination,
	StepExport:      StepConfirm,
	StepReport:      StepBrowse,
}

// Number is the 1-based position of a step for "step 3 of 9" displays; 0
// for the final states.
func (s Step) Number() int {
	for i, t := range Steps[:9] {
		if t == s {
			return i + 1
		}
	}
	return 0
}

// Final reports whether nothing follows s.
func (s Step) Final() bool { return s == StepDone || s == StepCancelled }

// Valid reports whether s is a known step.
func (s Step) Valid() bool {
	for _, t := range Steps {
		if t == s {
			return true
		}
	}
	return false
}

// Prev is the step Back leads to from s, and false when there is none.
func Prev(s Step) (Step, bool) {
	p, ok := prev[s]
	return p, ok
}

// Allowed reports whether the machine may move from one step to another:
// forward as the table says, back to Prev, or to cancelled from any step
// that is not final.
func Allowed(from, to Step) bool {
	if !from.Valid() || !to.Valid() || from.Final() {
		return false
	}
	if to == StepCancelled {
		return true
	}
	if p, ok := prev[from]; ok && p == to {
		return true
	}
	for _, t := range forward[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Errors of the state machine, for errors.Is.
var (
	// ErrTransition: the move makes no sense from the current step.
	ErrTransition = errors.New("wizard: move not allowed")
	// ErrNothingFound: the scan found no volume; try a deep scan or other sources.
	ErrNothingFound = errors.New("no VMFS volume found")
	// ErrEmptySelection: nothing is selected to export.
	ErrEmptySelection = errors.New("nothing selected")
	// ErrNoSpace: the destination has less free space than the selection needs.
	ErrNoSpace = errors.New("not enough free space at the destination")
	// ErrDestOnSource: the destination folder holds a source.
	ErrDestOnSource = errors.New("destination holds a source")
	// ErrNoState: there is no saved wizard to resume.
	ErrNoState = errors.New("no saved wizard state")
	// ErrBadState: the saved state cannot be used.
	ErrBadState = errors.New("bad wizard state")
)

// TransitionError is a refused move.
type TransitionError struct {
	From, To Step
	Action   string // the method called: "ChooseVolume", "Back", ...
}

func (e *TransitionError) Error() string {
	if e.To == "" {
		return fmt.Sprintf("wizard: %s is not possible at the %s step", e.Action, e.From)
	}
	return fmt.Sprintf("wizard: %s is not possible at the %s step (it would lead to %s)", e.Action, e.From, e.To)
}

func (e *TransitionError) Unwrap() error { return ErrTransition }

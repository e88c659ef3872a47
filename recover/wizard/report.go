package wizard

import (
	"context"
	"io"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
)

// Report is the outcome of the export step.
type Report struct {
	Destination string `json:"destination"`
	// Manifest is the manifest's path, "" when it was not written
	// (ManifestError says why, when known).
	Manifest      string    `json:"manifest"`
	ManifestError string    `json:"manifest_error,omitempty"`
	Exported      int       `json:"exported"` // files written by this run
	Complete      int       `json:"complete"` // files already there from an earlier run
	Failed        int       `json:"failed"`
	Skipped       int       `json:"skipped"`
	Linked        int       `json:"linked"` // symbolic links recreated
	Bytes         int64     `json:"bytes"`
	Failures      []Failure `json:"failures,omitempty"`
	// Warned counts exported files known to be incomplete; Warnings
	// lists them (Error is the warning), as the manifest does.
	Warned   int       `json:"warned,omitempty"`
	Warnings []Failure `json:"warnings,omitempty"`
	// Verified is set when the destination was read back.
	Verified    bool                 `json:"verified"`
	Verify      *export.VerifyResult `json:"verify,omitempty"`
	VerifyError string               `json:"verify_error,omitempty"`
}

// Failure is one path that was not exported.
type Failure struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// maxFailures bounds the failures kept in the state; the manifest has all.
const maxFailures = 1000

func newReport(rep *export.Report, dst export.Destination) *Report {
	r := &Report{Destination: dst.String()}
	if rep == nil {
		return r
	}
	if rep.Manifest != "" {
		r.Manifest = session.ManifestPath(dst)
	} else if rep.ManifestError != nil {
		r.ManifestError = rep.ManifestError.Error()
	}
	r.Exported, r.Complete, r.Failed, r.Skipped, r.Warned, r.Bytes = rep.Exported, rep.Complete, rep.Failed, rep.Skipped, rep.Warned, rep.Bytes
	for _, e := range rep.Entries {
		if e.Status == export.StatusLinked {
			r.Linked++
		}
		if e.Status == export.StatusFailed && len(r.Failures) < maxFailures {
			r.Failures = append(r.Failures, Failure{Path: "/" + e.Source, Error: e.Error})
		}
		for _, w := range e.Warnings {
			if len(r.Warnings) < maxFailures {
				r.Warnings = append(r.Warnings, Failure{Path: "/" + e.Source, Error: w})
			}
		}
	}
	return r
}

func (r *Report) verify(ctx context.Context, dst export.Destination, entries []export.Entry, prog export.Progress) {
	r.Verified = true
	res, err := session.Verify(ctx, dst, entries, prog)
	r.Verify = res
	if err != nil {
		r.VerifyError = err.Error()
	}
}

// OK reports whether everything selected was exported whole and verified.
func (r *Report) OK() bool {
	return r.Failed == 0 && r.Warned == 0 && r.VerifyError == "" && (r.Verify == nil || len(r.Verify.Mismatches) == 0)
}

// Mismatched reports whether verification found a file that differs.
func (r *Report) Mismatched() bool {
	return r.Verify != nil && len(r.Verify.Mismatches) > 0
}

// WriteText renders the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	ew := &textout.ErrWriter{W: w}
	ew.Printf("Destination: %s\n", r.Destination)
	ew.Printf("Exported:    %d file(s) now, %d already complete, %s\n", r.Exported, r.Complete, preview.Size(r.Bytes))
	if r.Linked > 0 {
		ew.Printf("Links:       %d recreated\n", r.Linked)
	}
	ew.Printf("Failed:      %d\n", r.Failed)
	if r.Skipped > 0 {
		ew.Printf("Skipped:     %d (links leading outside, special files)\n", r.Skipped)
	}
	for _, f := range r.Failures {
		ew.Printf("  FAILED %s: %s\n", f.Path, f.Error)
	}
	if r.Warned > 0 {
		ew.Printf("Incomplete:  %d file(s) with bytes read as zeros\n", r.Warned)
	}
	for _, w := range r.Warnings {
		ew.Printf("  WARNING %s: %s\n", w.Path, w.Error)
	}
	switch {
	case r.Manifest != "":
		ew.Printf("Manifest:    %s\n", r.Manifest)
	case r.ManifestError != "":
		ew.Printf("Manifest:    not written: %s\n", r.ManifestError)
	default:
		ew.Printf("Manifest:    not written\n")
	}
	switch {
	case !r.Verified:
		ew.Printf("Verify:      not done\n")
	case r.Verify != nil && len(r.Verify.Mismatches) == 0 && r.VerifyError == "":
		ew.Printf("Verify:      OK, %d file(s), %s read back and matched\n", r.Verify.Checked, preview.Size(r.Verify.Bytes))
	default:
		if r.Verify != nil {
			ew.Printf("Verify:      %d file(s) checked, %d MISMATCH(ES)\n", r.Verify.Checked, len(r.Verify.Mismatches))
			for _, m := range r.Verify.Mismatches {
				ew.Printf("  MISMATCH %s\n", m)
			}
		}
		if r.VerifyError != "" {
			ew.Printf("Verify:      %s\n", r.VerifyError)
		}
	}
	return ew.Err
}

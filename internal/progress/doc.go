// Package progress is the one progress display of the tool: every command
// (deep scan, image, search, dump, export, verify) and the wizard show
// long work through a Display.
//
// On a terminal a Display is a progressbar/v3 bar with bytes, rate and
// ETA, its label and a status the work updates (the files done, the
// bytes a remote link delivered). Elsewhere (a log, a pipe, a wizard
// driven by an answers file) it writes a plain line at most every
// interval, "label: done/total bytes (pct%), rate/s, ETA d, status", and
// one at the end, so that a log shows the work moving without a line a
// second.
//
// It imports nothing of the project but internal/textout.
package progress

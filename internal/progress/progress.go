package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
)

// Display shows how far one piece of work of a known number of bytes has
// gone. Its methods are safe for concurrent use.
type Display struct {
	mu       sync.Mutex
	w        io.Writer
	bar      *progressbar.ProgressBar // nil: plain lines
	interval time.Duration
	label    string
	status   string
	total    int64
	done     int64
	first    int64 // done at the first update: the rate counts from there
	started  bool
	start    time.Time
	last     time.Time // of the last line
	lastDone int64     // done at the last line, -1 before the first
	ended    bool
}

// New starts a display of work of total bytes, named label, on w: a bar
// when w is a terminal, else a line at most every interval (0: at every
// update) and at the end.
func New(w io.Writer, terminal bool, interval time.Duration, label string, total int64) *Display {
	d := &Display{w: w, interval: interval, label: label, total: total, start: time.Now(), last: time.Now(), lastDone: -1}
	if terminal {
		d.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	return d
}

// Terminal reports whether the display is a bar.
func (d *Display) Terminal() bool { return d.bar != nil }

// Status sets the text shown after the label on the bar and at the end of
// each line; it shows from the next update.
func (d *Display) Status(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status = s
	if d.bar != nil {
		d.bar.Describe(d.describe())
	}
}

func (d *Display) describe() string {
	if d.status == "" {
		return d.label
	}
	return d.label + " " + d.status
}

// Set records that done bytes of the work are done.
func (d *Display) Set(done int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.update(done)
}

// Add records n more bytes done; n is negative when bytes are taken back
// (a failed attempt before a retry).
func (d *Display) Add(n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.update(d.done + n)
}

func (d *Display) update(done int64) {
	if !d.started {
		d.started, d.first = true, done
	}
	d.done = done
	if d.bar != nil {
		_ = d.bar.Set64(max(done, 0))
		return
	}
	if time.Since(d.last) >= d.interval {
		d.line()
	}
}

// line writes the plain progress line.
func (d *Display) line() {
	d.last, d.lastDone = time.Now(), d.done
	el := time.Since(d.start).Seconds()
	rate := float64(d.done-d.first) / max(el, 0.001)
	eta := "?"
	if rate > 0 && d.total >= d.done {
		eta = (time.Duration(float64(d.total-d.done)/rate) * time.Second).Round(time.Second).String()
	}
	status := ""
	if d.status != "" {
		status = ", " + d.status
	}
	fmt.Fprintf(d.w, "%s: %d/%d bytes (%.0f%%), %s/s, ETA %s%s\n", d.label, d.done, d.total,
		100*float64(d.done)/float64(max(d.total, 1)), textout.Bytes(int64(rate)), eta, status)
}

// Println writes s on a line of its own, between the bar's updates.
func (d *Display) Println(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != nil {
		_ = d.bar.Clear()
	}
	fmt.Fprintln(d.w, s)
}

// Finish ends the display of work that is complete: a full bar, or the
// last line.
func (d *Display) Finish() { d.end("") }

// Stop ends the display of work cut short (interrupted, or with failures):
// the bar is not shown full but replaced by summary, which plain lines
// also end with.
func (d *Display) Stop(summary string) { d.end(summary) }

func (d *Display) end(summary string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return
	}
	d.ended = true
	switch {
	case d.bar != nil && summary == "":
		_ = d.bar.Finish()
		fmt.Fprintln(d.w)
	case d.bar != nil:
		_ = d.bar.Clear()
		_ = d.bar.Exit()
		fmt.Fprintf(d.w, "\r%s\n", summary)
	case summary != "":
		fmt.Fprintln(d.w, summary)
	case d.lastDone != d.done || !d.started:
		d.line()
	}
}

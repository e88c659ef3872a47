package export

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress receives the progress of an export or a verification. Add may
// be called from several goroutines, for the file name; n is negative when
// a failed attempt's bytes are taken back before a retry.
type Progress interface {
	Start(files int, bytes int64)
	FileStart(name string, size int64)
	Add(name string, n int64)
	FileDone(name, status string)
	Finish()
}

// StatusInterrupted is the status Progress.FileDone gets for a file the
// cancelled context cut short; the manifest records it as failed.
const StatusInterrupted = "interrupted"

type nopProgress struct{}

func (nopProgress) Start(int, int64)        {}
func (nopProgress) FileStart(string, int64) {}
func (nopProgress) Add(string, int64)       {}
func (nopProgress) FileDone(string, string) {}
func (nopProgress) Finish()                 {}

// NewProgress shows the progress of the work named by label ("export",
// "verify") on w: a bar with bytes, rate and ETA, the files done and the
// file started last when w is a terminal; otherwise a plain line per file
// done and a summary line at most every interval. Files that end in failure
// are counted, not listed: the caller reports each once, with its reason.
func NewProgress(w io.Writer, label string, terminal bool, interval time.Duration) Progress {
	if terminal {
		return &barProgress{w: w, label: label}
	}
	return &lineProgress{w: w, label: label, interval: interval}
}

// succeeded reports whether a FileDone status is a success; the others
// (failed, interrupted, MISMATCH) are counted by status.
func succeeded(status string) bool {
	switch status {
	case StatusFailed, StatusInterrupted, statusMismatch:
		return false
	}
	return true
}

// tally counts the files done and those that did not succeed, by status.
type tally struct {
	files, done int
	total, got  int64
	bad         map[string]int
	badOrder    []string
}

func (t *tally) fileDone(status string) {
	t.done++
	if succeeded(status) {
		return
	}
	if t.bad == nil {
		t.bad = map[string]int{}
	}
	if t.bad[status] == 0 {
		t.badOrder = append(t.badOrder, status)
	}
	t.bad[status]++
}

// String is "3/5 files (1 failed)".
func (t *tally) String() string {
	s := fmt.Sprintf("%d/%d files", t.done, t.files)
	for i, st := range t.badOrder {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		s += fmt.Sprintf("%s%d %s", sep, t.bad[st], st)
	}
	if len(t.badOrder) > 0 {
		s += ")"
	}
	return s
}

type barProgress struct {
	w     io.Writer
	label string
	mu    sync.Mutex
	total *progressbar.ProgressBar
	tally
	name string // the file started last: the "current file" shown
	size int64
	cur  int64 // of that file
}

func (p *barProgress) Start(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tally = tally{files: files, total: bytes}
	p.total = progressbar.NewOptions64(bytes,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetDescription(fmt.Sprintf("%s 0/%d files", p.label, files)),
	)
}

func (p *barProgress) FileStart(name string, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.size, p.cur = name, size, 0
	p.describe()
}

func (p *barProgress) describe() {
	if p.total == nil {
		return
	}
	pct := 100
	if p.size > 0 {
		pct = int(100 * p.cur / p.size)
	}
	p.total.Describe(fmt.Sprintf("%s %s | %3d%% %s", p.label, p.tally.String(), pct, shorten(p.name, 40)))
}

func (p *barProgress) Add(name string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if name == p.name {
		p.cur += n
		p.describe()
	}
	p.got += n
	if p.total != nil {
		_ = p.total.Add64(n)
	}
}

func (p *barProgress) FileDone(name, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fileDone(status)
	p.describe()
}

// Finish fills the bar only when every byte was counted; work cut short
// (interrupted, failed files) ends with a line saying how far it got
// instead of a full bar.
func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total == nil {
		return
	}
	if p.done == p.files && p.got >= p.tally.total {
		_ = p.total.Finish()
		fmt.Fprintln(p.w)
		return
	}
	how := "stopped"
	if p.done == p.files {
		how = "ended" // every file tried, some failed
	}
	_ = p.total.Clear()
	_ = p.total.Exit()
	fmt.Fprintf(p.w, "\r%s %s: %s, %d of %d bytes\n", p.label, how, p.tally.String(), p.got, p.tally.total)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "..." + string(r[len(r)-n+3:])
}

// lineProgress prints plain lines, for logs and pipes.
type lineProgress struct {
	w        io.Writer
	label    string
	interval time.Duration
	mu       sync.Mutex
	tally
	start time.Time
	last  time.Time
}

func (p *lineProgress) Start(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tally = tally{files: files, total: bytes}
	p.start, p.last = time.Now(), time.Now()
	fmt.Fprintf(p.w, "%s: %d files, %d bytes\n", p.label, files, bytes)
}

func (p *lineProgress) FileStart(name string, size int64) {}

func (p *lineProgress) Add(name string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got += n
	if p.interval > 0 && time.Since(p.last) >= p.interval {
		p.last = time.Now()
		p.line()
	}
}

func (p *lineProgress) line() {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.got) / el
	}
	eta := "?"
	if rate > 0 && p.tally.total >= p.got {
		eta = (time.Duration(float64(p.tally.total-p.got)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "%s: %s, %d/%d bytes, %.1f MB/s, ETA %s\n", p.label, p.tally.String(), p.got, p.tally.total, rate/1e6, eta)
}

func (p *lineProgress) FileDone(name, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fileDone(status)
	if succeeded(status) {
		fmt.Fprintf(p.w, "%s: %s\n", status, name)
	}
}

func (p *lineProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line()
}

package export

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/progress"
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
// "verify") on w, through the tool's one display (internal/progress): on
// a terminal a bar with bytes, rate and ETA, the files done and the file
// started last; otherwise a line at most every interval, and a line per
// file done. Files that end in failure are counted, not listed: the
// caller reports each once, with its reason.
func NewProgress(w io.Writer, label string, terminal bool, interval time.Duration) Progress {
	return &displayProgress{w: w, label: label, terminal: terminal, interval: interval}
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

// displayProgress keeps the tally of files and shows it, with the
// bytes, on a progress.Display.
type displayProgress struct {
	w        io.Writer
	label    string
	terminal bool
	interval time.Duration
	mu       sync.Mutex
	d        *progress.Display
	tally
	name string // the file started last: the "current file" shown
	size int64
	cur  int64 // of that file
}

func (p *displayProgress) Start(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tally = tally{files: files, total: bytes}
	p.d = progress.New(p.w, p.terminal, p.interval, p.label, bytes)
	if !p.terminal {
		p.d.Println(fmt.Sprintf("%s: %d files, %d bytes", p.label, files, bytes))
	}
	p.describe()
}

func (p *displayProgress) FileStart(name string, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.size, p.cur = name, size, 0
	p.describe()
}

// describe shows the files done; on a terminal also how far the file
// started last is.
func (p *displayProgress) describe() {
	if p.d == nil {
		return
	}
	if !p.terminal || p.name == "" {
		p.d.Status(p.tally.String())
		return
	}
	pct := 100
	if p.size > 0 {
		pct = int(100 * p.cur / p.size)
	}
	p.d.Status(fmt.Sprintf("%s | %3d%% %s", p.tally.String(), pct, shorten(p.name, 40)))
}

func (p *displayProgress) Add(name string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if name == p.name && p.terminal {
		p.cur += n
		p.describe()
	}
	p.got += n
	if p.d != nil {
		p.d.Add(n)
	}
}

func (p *displayProgress) FileDone(name, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fileDone(status)
	p.describe()
	if !p.terminal && succeeded(status) && p.d != nil {
		p.d.Println(fmt.Sprintf("%s: %s", status, name))
	}
}

// Finish fills the bar only when every byte was counted; work cut short
// (interrupted, failed files) ends with a line saying how far it got
// instead of a full bar.
func (p *displayProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.d == nil {
		return
	}
	if p.done == p.files && p.got >= p.tally.total {
		p.d.Finish()
		return
	}
	how := "stopped"
	if p.done == p.files {
		how = "ended" // every file tried, some failed
	}
	p.d.Stop(fmt.Sprintf("%s %s: %s, %d of %d bytes", p.label, how, p.tally.String(), p.got, p.tally.total))
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "..." + string(r[len(r)-n+3:])
}

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

type nopProgress struct{}

func (nopProgress) Start(int, int64)        {}
func (nopProgress) FileStart(string, int64) {}
func (nopProgress) Add(string, int64)       {}
func (nopProgress) FileDone(string, string) {}
func (nopProgress) Finish()                 {}

// NewProgress shows progress on w: two bars (overall, and the file started
// last) with bytes, rate and ETA when w is a terminal, otherwise a plain line
// per finished file and a summary line at most every interval.
func NewProgress(w io.Writer, terminal bool, interval time.Duration) Progress {
	if terminal {
		return &barProgress{w: w}
	}
	return &lineProgress{w: w, interval: interval}
}

type barProgress struct {
	w     io.Writer
	mu    sync.Mutex
	total *progressbar.ProgressBar
	files int
	done  int
	name  string // the file started last: the "current file" shown
	size  int64
	got   int64
}

func (p *barProgress) Start(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files = files
	p.total = progressbar.NewOptions64(bytes,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetDescription(fmt.Sprintf("0/%d files", files)),
	)
}

func (p *barProgress) FileStart(name string, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.size, p.got = name, size, 0
	p.describe()
}

func (p *barProgress) describe() {
	if p.total == nil {
		return
	}
	pct := 100
	if p.size > 0 {
		pct = int(100 * p.got / p.size)
	}
	p.total.Describe(fmt.Sprintf("%d/%d files | %3d%% %s", p.done, p.files, pct, shorten(p.name, 40)))
}

func (p *barProgress) Add(name string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if name == p.name {
		p.got += n
		p.describe()
	}
	if p.total != nil {
		_ = p.total.Add64(n)
	}
}

func (p *barProgress) FileDone(name, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.describe()
}

func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total != nil {
		_ = p.total.Finish()
		fmt.Fprintln(p.w)
	}
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
	interval time.Duration
	mu       sync.Mutex
	files    int
	done     int
	total    int64
	bytes    int64
	start    time.Time
	last     time.Time
}

func (p *lineProgress) Start(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files, p.total, p.start, p.last = files, bytes, time.Now(), time.Now()
	fmt.Fprintf(p.w, "%d files, %d bytes\n", files, bytes)
}

func (p *lineProgress) FileStart(name string, size int64) {}

func (p *lineProgress) Add(name string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if p.interval > 0 && time.Since(p.last) >= p.interval {
		p.last = time.Now()
		p.line()
	}
}

func (p *lineProgress) line() {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.bytes) / el
	}
	eta := "?"
	if rate > 0 && p.total >= p.bytes {
		eta = (time.Duration(float64(p.total-p.bytes)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "progress: %d/%d files, %d/%d bytes, %.1f MB/s, ETA %s\n", p.done, p.files, p.bytes, p.total, rate/1e6, eta)
}

func (p *lineProgress) FileDone(name, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	fmt.Fprintf(p.w, "%s: %s\n", status, name)
}

func (p *lineProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line()
}

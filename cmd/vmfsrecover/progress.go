package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/progress"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"golang.org/x/term"
)

// byteProgress reports long byte-counting work on stderr through the
// tool's one display (internal/progress): a bar with throughput and ETA on
// a terminal, a plain line every 10 seconds otherwise, nothing with
// --quiet or --json. received, when not nil, counts the bytes a remote
// source delivered: the display adds them and their rate, which is the
// link's, not the scan's.
func (g *globalOptions) byteProgress(desc string, total int64, received func() int64) (update func(done, total int64), finish func()) {
	return g.byteProgressTo(os.Stderr, desc, total, received, nil)
}

// byteProgressTo is byteProgress on w, whose status also carries what
// detail says (such as a rescue's rescued and bad totals), refreshed with
// the link rate.
func (g *globalOptions) byteProgressTo(w io.Writer, desc string, total int64, received func() int64, detail func() string) (update func(done, total int64), finish func()) {
	if g.quiet || g.json {
		return func(int64, int64) {}, func() {}
	}
	f, ok := w.(*os.File)
	return progressOn(w, ok && term.IsTerminal(int(f.Fd())), 10*time.Second, desc, total, received, detail)
}

// progressOn shows the work on a progress.Display whose status is the
// link's rate and the detail, sampled about once a second on a terminal
// and once a line otherwise.
func progressOn(w io.Writer, terminal bool, interval time.Duration, desc string, total int64, received func() int64, detail func() string) (update func(done, total int64), finish func()) {
	d := progress.New(w, terminal, interval, desc, total)
	every := interval
	if terminal {
		every = time.Second
	}
	link := newLinkRate(received, detail, every)
	return func(done, _ int64) {
		if s, ok := link.sample(); ok {
			d.Status(s)
		}
		d.Set(done)
	}, d.Finish
}

// linkRate follows the bytes a remote source has received, for the rate
// over the last sampling period, and the detail text of the work.
type linkRate struct {
	received func() int64
	detail   func() string
	every    time.Duration
	at       time.Time
	bytes    int64
}

func newLinkRate(received func() int64, detail func() string, every time.Duration) *linkRate {
	r := &linkRate{received: received, detail: detail, every: every, at: time.Now()}
	if received != nil {
		r.bytes = received()
	}
	return r
}

// sample returns the detail and "received N at R/s" when a period has
// passed since the last sample (every period when every is 0), else ok is
// false.
func (r *linkRate) sample() (s string, ok bool) {
	if r.received == nil && r.detail == nil {
		return "", false
	}
	now := time.Now()
	el := now.Sub(r.at)
	if el < r.every || el <= 0 {
		return "", false
	}
	var parts []string
	if r.detail != nil {
		parts = append(parts, r.detail())
	}
	if r.received != nil {
		n := r.received()
		rate := float64(n-r.bytes) / el.Seconds()
		r.bytes = n
		parts = append(parts, fmt.Sprintf("received %s at %s/s", textout.Bytes(n), textout.Bytes(int64(rate))))
	}
	r.at = now
	return strings.Join(parts, ", "), true
}

// deepProgress is the progress display of deep scans; see summedProgress.
func (g *globalOptions) deepProgress() deepscan.ProgressFunc { return summedProgress(g.byteProgress) }

// summedProgress shows the deep scan of one source through show as it
// is, and of several, which scan at once, as one display of their summed
// bytes (and bytes received). Its state starts over once every source it
// was given has finished, for the next scan.
func summedProgress(show func(desc string, total int64, received func() int64) (func(done, total int64), func())) deepscan.ProgressFunc {
	var mu sync.Mutex
	type src struct {
		spec       string
		size, done int64
		received   func() int64
		finished   bool
	}
	var srcs []*src
	var update func(done, total int64)
	var finish func()
	var total int64 // of every source, fixed when the display starts
	sum := func(f func(*src) int64) int64 {
		var n int64
		for _, s := range srcs {
			n += f(s)
		}
		return n
	}
	return func(spec string, size int64, received func() int64) (func(done, total int64), func()) {
		mu.Lock()
		s := &src{spec: spec, size: size, received: received}
		srcs = append(srcs, s)
		mu.Unlock()
		return func(done, _ int64) {
				mu.Lock()
				defer mu.Unlock()
				s.done = done
				if update == nil {
					desc, rec := "deep scan "+srcs[0].spec, srcs[0].received
					if len(srcs) > 1 {
						desc = fmt.Sprintf("deep scan of %d sources", len(srcs))
						rec = func() int64 {
							return sum(func(s *src) int64 {
								if s.received == nil {
									return 0
								}
								return s.received()
							})
						}
						if !slices.ContainsFunc(srcs, func(s *src) bool { return s.received != nil }) {
							rec = nil
						}
					}
					total = sum(func(s *src) int64 { return s.size })
					update, finish = show(desc, total, rec)
				}
				update(sum(func(s *src) int64 { return s.done }), total)
			}, func() {
				mu.Lock()
				defer mu.Unlock()
				s.finished = true
				if slices.ContainsFunc(srcs, func(s *src) bool { return !s.finished }) {
					return
				}
				if finish != nil {
					finish()
				}
				srcs, update, finish = nil, nil, nil
			}
	}
}

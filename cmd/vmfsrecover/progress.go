package main

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// byteProgress reports long byte-counting work on stderr: a bar with
// throughput and ETA on a terminal, a plain line every 10 seconds
// otherwise, nothing with --quiet or --json.
func (g *globalOptions) byteProgress(desc string, total int64) (update func(done, total int64), finish func()) {
	if g.quiet || g.json {
		return func(int64, int64) {}, func() {}
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
		return func(done, _ int64) { bar.Set64(done) }, func() { bar.Finish(); fmt.Fprintln(os.Stderr) }
	}
	start, last := time.Now(), time.Now()
	var first int64 = -1
	return func(done, total int64) {
		if first < 0 {
			first = done
		}
		if time.Since(last) < 10*time.Second && done < total {
			return
		}
		last = time.Now()
		rate := float64(done-first) / max(time.Since(start).Seconds(), 0.001)
		fmt.Fprintf(os.Stderr, "%s: %d/%d bytes (%.0f%%), %s/s\n", desc, done, total, 100*float64(done)/float64(max(total, 1)), humanBytes(int64(rate)))
	}, func() {}
}

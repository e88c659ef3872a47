package fanout

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunRunsEveryPartOnce: from many callers at once (more than there
// are helpers), and after pauses long enough for the helpers to sleep.
func TestRunRunsEveryPartOnce(t *testing.T) {
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() {
			for round := range 300 {
				counts := make([]atomic.Int32, 1+round%9)
				parts := make([]func(), len(counts))
				for i := range parts {
					parts[i] = func() { counts[i].Add(1) }
				}
				Run(parts...)
				for i := range counts {
					if n := counts[i].Load(); n != 1 {
						t.Errorf("caller %d, round %d: part %d ran %d times", c, round, i, n)
						return
					}
				}
				if round%100 == 99 {
					time.Sleep(3 * spinWindow) // the helpers sleep now
				}
			}
		})
	}
	wg.Wait()
	Run() // no parts
}

// TestRunIsParallel: with a helper free, part 0 sees part 1 run while it
// is still running itself.
func TestRunIsParallel(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: Run has no helpers")
	}
	for _, pause := range []time.Duration{0, 3 * spinWindow} {
		time.Sleep(pause)
		second := make(chan struct{})
		var together bool
		Run(func() {
			select {
			case <-second:
				together = true
			case <-time.After(10 * time.Second):
			}
		}, func() { close(second) })
		if !together {
			t.Fatalf("after a pause of %v: part 1 did not run while part 0 waited for it", pause)
		}
	}
}

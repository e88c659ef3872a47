package fanout

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Width is how many parts are worth cutting a piece of work into: the
// CPUs Go runs on, at most 8.
func Width() int { return min(runtime.GOMAXPROCS(0), 8) }

// Run runs every part and returns when all are done: parts[0] and any
// part no helper is free for on the calling goroutine, the others on
// helpers. The parts must be safe to run at once.
func Run(parts ...func()) {
	var claimed []*helper
	own := parts[:0:0]
	for i, part := range parts {
		if i > 0 {
			if h := claim(); h != nil {
				h.start(part)
				claimed = append(claimed, h)
				continue
			}
		}
		own = append(own, part)
	}
	for _, part := range own {
		part()
	}
	for _, h := range claimed {
		h.wait()
	}
}

// A helper is a goroutine that runs one part at a time for whichever
// caller claimed it.
type helper struct {
	busy   atomic.Bool            // claimed by a caller
	job    atomic.Pointer[func()] // the part to run, until taken
	parked atomic.Bool            // asleep on wake
	wake   chan struct{}          // cap 1: a job for a parked helper
	done   chan struct{}          // cap 1: the job is done
	ended  atomic.Bool            // set after done is sent
}

// spinWindow is how long an idle helper, or a caller waiting for one,
// spins before it sleeps. Measured (96 MiB in 1 MiB reads, each as two
// halves of 64 KiB preads on two CPUs): a goroutine started per read and
// waited for 6.8 ms; helpers that spin 4.5 ms; two threads each reading
// half the file through 4.9 ms; one thread 6.5-7.8 ms.
const spinWindow = 200 * time.Microsecond

var (
	helpersOnce sync.Once
	helpers     []*helper
)

// claim returns a free helper, marked busy, or nil when all are.
func claim() *helper {
	helpersOnce.Do(func() {
		for range Width() - 1 {
			h := &helper{wake: make(chan struct{}, 1), done: make(chan struct{}, 1)}
			helpers = append(helpers, h)
			go h.run()
		}
	})
	for _, h := range helpers {
		if h.busy.CompareAndSwap(false, true) {
			return h
		}
	}
	return nil
}

// start hands f to the helper, waking it when it sleeps.
func (h *helper) start(f func()) {
	h.ended.Store(false)
	h.job.Store(&f)
	if h.parked.CompareAndSwap(true, false) {
		h.wake <- struct{}{}
	}
}

// wait returns when the helper's job is done, and frees the helper.
func (h *helper) wait() {
	spin(h.ended.Load)
	<-h.done // already sent when ended is set: no sleep then
	h.busy.Store(false)
}

func (h *helper) run() {
	for {
		f := h.next()
		(*f)()
		h.done <- struct{}{}
		h.ended.Store(true)
	}
}

// next returns the next job, spinning for it first, then asleep.
func (h *helper) next() *func() {
	var f *func()
	if spin(func() bool { f = h.job.Swap(nil); return f != nil }) {
		return f
	}
	h.parked.Store(true)
	if f = h.job.Swap(nil); f != nil {
		if !h.parked.CompareAndSwap(true, false) {
			<-h.wake // start saw the helper parked and sent a wake-up
		}
		return f
	}
	<-h.wake
	return h.job.Swap(nil)
}

// spin calls ready until it returns true, for at most spinWindow, and
// says whether it did.
func spin(ready func() bool) bool {
	deadline := time.Now().Add(spinWindow)
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i%64 == 63 && time.Now().After(deadline) {
			return false
		}
	}
}

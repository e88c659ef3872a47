package raid

import (
	"errors"

	"github.com/vmfsrecover/vmfsrecover/internal/fanout"
)

// parallelMin is the smallest read that readSplit shares among
// goroutines: below it, handing parts out costs more than it saves.
const parallelMin = 256 << 10

// readSplit cuts a large read into as many parts as there are CPUs, at
// stripe boundaries so that no row's parity is read twice, and reads them
// at once: the members are separate disks, a rebuild from parity is
// computation, and one goroutine waiting on each in turn is slower than
// one disk. The parts are read by package fanout's helpers.
func (a *Array) readSplit(p []byte, off int64) error {
	unit := a.stripe()
	workers := min(fanout.Width(), len(p)/parallelMin*2)
	if workers < 2 || int64(len(p)) < 2*unit {
		return a.readRange(p, off)
	}
	part := (int64(len(p))/int64(workers) + unit - 1) / unit * unit
	errs := make([]error, workers)
	var parts []func()
	for w := range workers {
		from := int64(w) * part
		if w > 0 {
			from -= (off + from) % unit // start on a stripe boundary
		}
		to := min(int64(w+1)*part, int64(len(p)))
		if w+1 < workers {
			to -= (off + to) % unit
		}
		if from >= to {
			continue
		}
		parts = append(parts, func() { errs[w] = a.readRange(p[from:to], off+from) })
	}
	fanout.Run(parts...)
	return errors.Join(errs...)
}

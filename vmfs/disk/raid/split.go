package raid

import (
	"errors"

	"github.com/vmfsrecover/vmfsrecover/internal/fanout"
)

// parallelMin is the smallest read that readSplit shares among
// goroutines: below it, handing parts out costs more than it saves.
const parallelMin = 256 << 10

// readSplit cuts a large read into parts of at least parallelMin, at
// stripe boundaries so that no row's parity is read twice, and reads them
// at once: the members are separate disks, a rebuild from parity is
// computation, and one goroutine waiting on each in turn is slower than
// one disk. The parts are read by package fanout's helpers.
func (a *Array) readSplit(p []byte, off int64) error {
	unit := a.stripe()
	workers := fanout.Parts(len(p), parallelMin)
	if workers < 2 || int64(len(p)) < 2*unit {
		return a.readRange(p, off)
	}
	part := (int64(len(p))/int64(workers) + unit - 1) / unit * unit
	// bound is where part w starts: on a stripe boundary of the array,
	// within p; the last ends at the end of p.
	bound := func(w int) int64 {
		switch b := int64(w) * part; {
		case w == 0:
			return 0
		case w == workers || b >= int64(len(p)):
			return int64(len(p))
		default:
			return b - (off+b)%unit
		}
	}
	errs := make([]error, workers)
	var parts []func()
	for w := range workers {
		from, to := bound(w), bound(w+1)
		if from >= to {
			continue
		}
		parts = append(parts, func() { errs[w] = a.readRange(p[from:to], off+from) })
	}
	fanout.Run(parts...)
	return errors.Join(errs...)
}

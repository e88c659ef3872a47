package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

// parityWindow is how much of the array one CheckParity call covers:
// progress and Ctrl-C are seen between windows.
const parityWindow = 64 << 20

// checkParity recomputes the parity of every row of a RAID 5 or 6 array
// and prints the ranges of array bytes whose parity disagrees with their
// data, consecutive rows with the same disagreement as one range. It
// returns how many rows disagree.
func checkParity(ctx context.Context, g *globalOptions, a *raid.Array, out io.Writer) (int, error) {
	update, finish := g.byteProgress("checking parity", a.Size(), nil)
	defer finish()
	var all []raid.Mismatch
	for off := int64(0); off < a.Size(); off += parityWindow {
		if err := ctx.Err(); err != nil {
			return len(all), err
		}
		ms, err := a.CheckParity(off, min(parityWindow, a.Size()-off))
		all = append(all, ms...)
		if err != nil {
			return len(all), err
		}
		update(min(off+parityWindow, a.Size()), a.Size())
	}
	finish()
	fmt.Fprintf(out, "\nparity of %s: %d bytes checked, %d row(s) disagree\n", a.Geometry().Level, a.Size(), len(all))
	for i := 0; i < len(all); {
		k := i + 1
		for k < len(all) && all[k].Row == all[k-1].Row+1 && all[k].P == all[i].P && all[k].Q == all[i].Q {
			k++
		}
		first, last := all[i], all[k-1]
		fmt.Fprintf(out, "  array bytes %#x-%#x (rows %d-%d): %s\n", first.Off, last.Off+last.Len, first.Row, last.Row, disagreement(all[i:k]))
		i = k
	}
	return len(all), nil
}

// disagreement says which parity disagrees in a run of rows, with the
// members that hold it (it rotates, so several may).
func disagreement(run []raid.Mismatch) string {
	members := func(q bool) string {
		seen := map[int]bool{}
		s := ""
		for _, m := range run {
			slot := m.PMember
			if q {
				slot = m.QMember
			}
			if !seen[slot] {
				seen[slot] = true
				if s != "" {
					s += ","
				}
				s += fmt.Sprint(slot)
			}
		}
		return s
	}
	switch {
	case run[0].P && run[0].Q:
		return fmt.Sprintf("P (member %s) and Q (member %s) disagree with the data", members(false), members(true))
	case run[0].Q:
		return fmt.Sprintf("Q (member %s) disagrees with the data", members(true))
	}
	return fmt.Sprintf("P (member %s) disagrees with the data", members(false))
}

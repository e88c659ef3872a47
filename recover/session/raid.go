package session

import (
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/recover/source"
)

// raidSource assembles the sources as the members of one RAID array, as
// opts.RAID says (see source.RAID). The note says what was assumed, with
// the spec that gives it back.
func raidSource(sources []string, opts Options, tolerant bool) (string, source.Disk, string, error) {
	d, spec, why, err := source.RAID(sources, opts.RAID, source.Options{Tolerant: tolerant, Maps: opts.Maps})
	if err != nil {
		return "", nil, "", fmt.Errorf("--raid %s: %w", opts.RAID, err)
	}
	return spec.String(), d, fmt.Sprintf("RAID members assembled as %s (%s); pass --raid %s to skip detection", spec, why, spec), nil
}

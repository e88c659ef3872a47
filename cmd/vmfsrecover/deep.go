package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
)

// scanFileNote says what happened to a scan file, with the flag that
// changes it.
func scanFileNote(e deepscan.Event) string {
	switch e.Kind {
	case deepscan.Reused:
		return e.String() + "; --rescan scans again"
	case deepscan.Unsaved:
		return e.String() + "; choose a folder that can be written with --scan-dir"
	}
	return e.String()
}

// note prints a notice on stderr unless --quiet.
func (g *globalOptions) note(msg string) {
	if !g.quiet {
		fmt.Fprintln(os.Stderr, "note:", msg)
	}
}

// nothingFound is the error of a deep scan that found no volume.
func nothingFound(sources []string) error {
	return withExitCode(exitPartial, fmt.Errorf("%w: nothing recovered: the deep scan found no VMFS metadata (LVM header, file-system descriptor, file descriptors) on %s",
		discover.ErrNoVolume, strings.Join(sources, ", ")))
}

// emptyVolume says why a volume the deep scan found holds no file.
func emptyVolume(v *deepscan.Found) string {
	s := fmt.Sprintf("the deep scan found volume %d (VMFS%d at offset %d of %s) but no file in it", v.Number, v.Version, v.Origin, v.Source)
	if v.Missing > 0 {
		return s + fmt.Sprintf(": the image is truncated, %d bytes (%s) of the volume's disk are missing", v.Missing, textout.Bytes(v.Missing))
	}
	return s + ": none of its directories or file descriptors survives"
}

// withRecoveryHint adds to an error that says the volume is damaged, or
// was not found, the flags that read it anyway (those not given already).
func withRecoveryHint(v *volumeFlags, err error) error {
	var hints []string
	switch {
	case v.deep:
		return err
	case errors.Is(err, discover.ErrNoVolume):
		if !v.probeAll {
			hints = append(hints, "--probe-all looks for a volume at every 1 MiB")
		}
		hints = append(hints, "--deep finds volumes by what survives of their metadata anywhere on the disk")
	case errors.Is(err, vmfs.ErrNotVMFS) || errors.Is(err, vmfs.ErrCorrupt): // every vmfs format error is ErrCorrupt
		if !v.tolerant {
			hints = append(hints, "--tolerant reads what survives of the volume")
		}
		hints = append(hints, "--deep rebuilds it from a scan of the whole disk")
	default:
		return err
	}
	return fmt.Errorf("%w; %s", err, strings.Join(hints, ", "))
}

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
)

// deepScan runs the deep scan of every source (or reuses its scan file) and
// rebuilds the volumes found. The returned function closes the sources.
// Scan files live in --scan-dir, else in the working directory, else
// (when that cannot be written) in the user's cache folder.
func deepScan(ctx context.Context, g *globalOptions, sources []string) ([]deepscan.Found, func() error, error) {
	dir, fallback := g.vol.scanDir, ""
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, nil, err
		}
		if cache, err := os.UserCacheDir(); err == nil {
			fallback = filepath.Join(cache, "vmfsrecover")
		}
	}
	srcs, err := source.ForDeepScan(sources)
	if err != nil {
		return nil, nil, err
	}
	s, err := deepscan.ScanSources(ctx, srcs, deepscan.SourcesOptions{
		Dir: dir, Fallback: fallback, Rescan: g.vol.rescan,
		Progress: g.deepProgress(),
		Notify:   func(e deepscan.Event) { g.note(scanFileNote(e)) },
	})
	if err != nil {
		return nil, nil, err
	}
	for _, w := range s.Warnings {
		g.warn(w)
	}
	return s.Volumes, s.Close, nil
}

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

// openDeepTree runs the deep scan and returns the recovered tree of the
// volume --volume names (the only one when there is one).
func openDeepTree(ctx context.Context, g *globalOptions, sources []string) (*deepscan.Tree, func() error, error) {
	vols, closer, err := deepScan(ctx, g, sources)
	if err != nil {
		return nil, nil, err
	}
	if len(vols) == 0 {
		closer()
		return nil, nil, nothingFound(sources)
	}
	v, err := deepscan.Select(vols, g.vol.volume)
	if err != nil {
		closer()
		return nil, nil, fmt.Errorf("%w (on %v; choose with --volume)", err, sources)
	}
	for _, a := range v.Anomalies {
		g.warn(a)
	}
	if v.Empty() {
		closer()
		return nil, nil, withExitCode(exitPartial, fmt.Errorf("nothing recovered: %s", emptyVolume(v)))
	}
	return v.Tree, closer, nil
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
		return s + fmt.Sprintf(": the image is truncated, %d bytes (%s) of the volume's disk are missing", v.Missing, humanBytes(v.Missing))
	}
	return s + ": none of its directories or file descriptors survives"
}

// openFS opens what a listing or export reads: the deep-scan tree with
// --deep, else the volume as it is.
func openFS(ctx context.Context, g *globalOptions, sources []string) (fs.FS, func() error, error) {
	if g.vol.deep {
		return openDeepTree(ctx, g, sources)
	}
	return openVolume(ctx, g, sources)
}

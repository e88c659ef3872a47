package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
)

// volumeFlags are the flags of every command that reads a volume.
type volumeFlags struct {
	volume   string
	tolerant bool
	probeAll bool
	deep     bool   // read the deep scan's findings instead of the volume as it is
	rescan   bool   // ignore a saved scan file
	scanDir  string // where scan files are kept
}

func addVolumeFlags(cmd *cobra.Command, g *globalOptions) {
	f := cmd.Flags()
	f.StringVar(&g.vol.volume, "volume", "", "which volume when the sources hold several: label, UUID or number from scan")
	f.BoolVar(&g.vol.tolerant, "tolerant", false, "read damaged volumes: missing extents and unreadable metadata read as zeros and are reported")
	f.BoolVar(&g.vol.probeAll, "probe-all", false, "also probe every 1 MiB boundary for VMFS (lost partition tables)")
	f.BoolVar(&g.vol.deep, "deep", false, "use the deep scan (run now, or reused from its scan file): damaged, reformatted and deleted files")
	f.BoolVar(&g.vol.rescan, "rescan", false, "with --deep: scan again instead of reusing the saved scan file")
	f.StringVar(&g.vol.scanDir, "scan-dir", "", "with --deep: folder whose .vmfsrecover/ holds scan files (default: the working directory)")
}

func (g *globalOptions) discoverOptions() discover.Options {
	return discover.Options{Tolerant: g.vol.tolerant, ProbeAll: g.vol.probeAll}
}

// openVolume finds the VMFS volume on sources (several sources for a
// spanned volume) and opens it. The returned function closes the sources.
func openVolume(ctx context.Context, g *globalOptions, sources []string) (*vmfs.Volume, func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	vol, s, err := discover.OpenVolume(sources, g.vol.volume, g.discoverOptions())
	if err != nil {
		return nil, nil, err
	}
	for _, w := range append(s.Warnings, vol.Anomalies()...) {
		g.warn(w)
	}
	return vol, s.Close, nil
}

// warn prints a warning on stderr unless --quiet.
func (g *globalOptions) warn(msg string) {
	if !g.quiet {
		fmt.Fprintln(os.Stderr, "warning:", msg)
	}
}

// splitSources separates SOURCE arguments from volume paths: sources come
// first and exist locally (or name a remote scheme); the rest are paths
// inside the volume. At least one source is required and at most maxPaths
// paths are allowed (-1: any number).
func splitSources(args []string, maxPaths int) (sources, paths []string, err error) {
	i := 0
	for i < len(args) && isSource(args[i]) {
		i++
	}
	sources, paths = args[:i], args[i:]
	if len(sources) == 0 {
		if len(args) == 0 {
			return nil, nil, withExitCode(exitUsage, fmt.Errorf("no SOURCE given"))
		}
		return nil, nil, withExitCode(exitUsage, fmt.Errorf("SOURCE %s: %w", args[0], os.ErrNotExist))
	}
	if maxPaths >= 0 && len(paths) > maxPaths {
		return nil, nil, withExitCode(exitUsage, fmt.Errorf("too many paths: %s", strings.Join(paths, " ")))
	}
	for k, p := range paths {
		paths[k] = volumePath(p)
	}
	return sources, paths, nil
}

func isSource(arg string) bool {
	if strings.Contains(arg, "://") {
		return true
	}
	_, err := os.Stat(arg)
	return err == nil
}

// volumePath turns "/dir/file", "dir/file/" or "" into the fs.FS form.
func volumePath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// closeWith runs closer after a command and keeps the first error.
func closeWith(err *error, closer func() error) {
	if cerr := closer(); cerr != nil && *err == nil {
		*err = cerr
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
)

// deepVolume is a volume rebuilt by the deep scan of one source.
type deepVolume struct {
	*deepscan.Recovered
	Number   int    `json:"number"`
	Source   string `json:"source"`
	ScanFile string `json:"scan_file"`
}

// deepScan runs the deep scan of every source (or reuses its scan file) and
// rebuilds the volumes found. The returned function closes the sources.
func deepScan(ctx context.Context, g *globalOptions, sources []string) ([]deepVolume, func() error, error) {
	dir := g.vol.scanDir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, nil, err
		}
	}
	var disks []source.Disk
	closeAll := func() error {
		var errs []error
		for _, d := range disks {
			errs = append(errs, d.Close())
		}
		return errors.Join(errs...)
	}
	var vols []deepVolume
	for _, spec := range sources {
		d, err := source.Open(spec, source.Options{Tolerant: true})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("source %s: %w", spec, err)
		}
		disks = append(disks, d)
		update, finish := g.byteProgress("deep scan "+spec, d.Size())
		f, path, err := deepscan.Run(ctx, d, d.Size(), spec, deepscan.RunOptions{
			Options: deepscan.Options{Progress: update}, Dir: dir, Rescan: g.vol.rescan,
		})
		finish()
		if err != nil {
			closeAll()
			if f != nil && !f.Complete() {
				return nil, nil, fmt.Errorf("deep scan of %s stopped at byte %d of %d (saved in %s; run again to resume): %w", spec, f.Done, f.Size, path, err)
			}
			return nil, nil, err
		}
		for _, b := range f.BadRanges {
			g.warn(fmt.Sprintf("%s: bytes %d-%d unreadable, read as zeros", spec, b.Off, b.End()))
		}
		found, err := deepscan.Rebuild(d, f)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		for _, r := range found {
			vols = append(vols, deepVolume{Recovered: r, Number: len(vols) + 1, Source: spec, ScanFile: path})
		}
	}
	return vols, closeAll, nil
}

// openDeepTree runs the deep scan and returns the recovered tree of the
// volume --volume names (the only one when there is one).
func openDeepTree(ctx context.Context, g *globalOptions, sources []string) (*deepscan.Tree, func() error, error) {
	vols, closer, err := deepScan(ctx, g, sources)
	if err != nil {
		return nil, nil, err
	}
	pick := func() (*deepVolume, error) {
		if len(vols) == 0 {
			return nil, fmt.Errorf("the deep scan found no VMFS metadata on %v", sources)
		}
		sel := g.vol.volume
		if sel == "" {
			if len(vols) > 1 {
				return nil, fmt.Errorf("the deep scan found %d volumes; choose one with --volume (number, label or UUID from scan --deep)", len(vols))
			}
			return &vols[0], nil
		}
		if n, err := strconv.Atoi(sel); err == nil && n >= 1 && n <= len(vols) {
			return &vols[n-1], nil
		}
		for i := range vols {
			if vols[i].Label == sel || vols[i].UUID == sel {
				return &vols[i], nil
			}
		}
		return nil, fmt.Errorf("no volume %q among the %d the deep scan found", sel, len(vols))
	}
	v, err := pick()
	if err != nil {
		closer()
		return nil, nil, err
	}
	for _, a := range v.Anomalies {
		g.warn(a)
	}
	return v.Tree, closer, nil
}

// openFS opens what a listing or export reads: the deep-scan tree with
// --deep, else the volume as it is.
func openFS(ctx context.Context, g *globalOptions, sources []string) (fs.FS, func() error, error) {
	if g.vol.deep {
		return openDeepTree(ctx, g, sources)
	}
	return openVolume(ctx, g, sources)
}

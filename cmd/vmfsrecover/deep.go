package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
)

// deepScan runs the deep scan of every source (or reuses its scan file) and
// rebuilds the volumes found. The returned function closes the sources.
func deepScan(ctx context.Context, g *globalOptions, sources []string) ([]deepscan.Found, func() error, error) {
	dir := g.vol.scanDir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, nil, err
		}
	}
	srcs, err := source.ForDeepScan(sources)
	if err != nil {
		return nil, nil, err
	}
	s, err := deepscan.ScanSources(ctx, srcs, deepscan.SourcesOptions{
		Dir: dir, Rescan: g.vol.rescan,
		Progress: g.deepProgress(),
	})
	if err != nil {
		return nil, nil, err
	}
	for _, w := range s.Warnings {
		g.warn(w)
	}
	return s.Volumes, s.Close, nil
}

// openDeepTree runs the deep scan and returns the recovered tree of the
// volume --volume names (the only one when there is one).
func openDeepTree(ctx context.Context, g *globalOptions, sources []string) (*deepscan.Tree, func() error, error) {
	vols, closer, err := deepScan(ctx, g, sources)
	if err != nil {
		return nil, nil, err
	}
	v, err := deepscan.Select(vols, g.vol.volume)
	if err != nil {
		closer()
		return nil, nil, fmt.Errorf("%w (on %v; choose with --volume)", err, sources)
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

package deepscan

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/vmfsrecover/vmfsrecover/recover/source"
)

// SourcesOptions tune ScanSources.
type SourcesOptions struct {
	Dir    string // where scan files live (their .vmfsrecover subfolder)
	Rescan bool   // ignore saved scan files
	// Progress, when set, is called once per source and returns the
	// function that receives its progress and the one that ends it.
	Progress func(spec string, size int64) (update func(done, total int64), finish func())
}

// Found is a volume rebuilt from the deep scan of one source.
type Found struct {
	*Recovered
	Number   int    `json:"number"` // 1-based, across all sources
	Source   string `json:"source"`
	ScanFile string `json:"scan_file"`
}

// Sources is the deep scan of several SOURCE arguments, open for reading.
type Sources struct {
	Volumes  []Found
	Warnings []string // unreadable ranges met
	disks    []source.Disk
}

// ScanSources opens every spec read-only, scans it (or reuses its complete
// scan file, or resumes a partial one) and rebuilds the volumes found. A
// scan interrupted through ctx keeps its findings for the next run.
func ScanSources(ctx context.Context, specs []string, opts SourcesOptions) (*Sources, error) {
	s := &Sources{}
	for _, spec := range specs {
		d, err := source.Open(spec, source.Options{Tolerant: true})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("source %s: %w", spec, err)
		}
		s.disks = append(s.disks, d)
		update, finish := func(int64, int64) {}, func() {}
		if opts.Progress != nil {
			update, finish = opts.Progress(spec, d.Size())
		}
		f, path, err := Run(ctx, d, d.Size(), spec, RunOptions{Options: Options{Progress: update}, Dir: opts.Dir, Rescan: opts.Rescan})
		finish()
		if err != nil {
			s.Close()
			if f != nil && !f.Complete() {
				return nil, fmt.Errorf("deep scan of %s stopped at byte %d of %d (saved in %s; scanning again resumes it): %w", spec, f.Done, f.Size, path, err)
			}
			return nil, err
		}
		for _, b := range f.BadRanges {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: bytes %d-%d unreadable, read as zeros", spec, b.Off, b.End()))
		}
		found, err := Rebuild(d, f)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("source %s: %w", spec, err)
		}
		for _, r := range found {
			s.Volumes = append(s.Volumes, Found{Recovered: r, Number: len(s.Volumes) + 1, Source: spec, ScanFile: path})
		}
	}
	return s, nil
}

// Close closes every source.
func (s *Sources) Close() error {
	var errs []error
	for _, d := range s.disks {
		errs = append(errs, d.Close())
	}
	return errors.Join(errs...)
}

// Select picks a found volume by its 1-based number, label or UUID; an
// empty selector picks the only one there is.
func Select(vols []Found, sel string) (*Found, error) {
	switch {
	case len(vols) == 0:
		return nil, errors.New("the deep scan found no VMFS metadata")
	case sel == "" && len(vols) > 1:
		return nil, fmt.Errorf("the deep scan found %d volumes; choose one by number, label or UUID", len(vols))
	case sel == "":
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

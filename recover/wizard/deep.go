package wizard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
)

// deepResult is what the deep scan of every source rebuilt.
type deepResult struct {
	disks    []source.Disk
	vols     []*deepscan.Recovered
	warnings []string
}

func (d *deepResult) close() error {
	var errs []error
	for _, disk := range d.disks {
		errs = append(errs, disk.Close())
	}
	return errors.Join(errs...)
}

// runDeep scans every source (or reuses its complete scan file in
// Options.ScanDir) and rebuilds the volumes. A scan interrupted through ctx
// keeps its findings in the scan file and resumes there next time.
func (w *Wizard) runDeep(ctx context.Context) (*deepResult, []VolumeInfo, error) {
	dir := w.opts.ScanDir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, nil, err
		}
	}
	res := &deepResult{}
	var infos []VolumeInfo
	for _, spec := range w.st.Sources {
		d, err := source.Open(spec, source.Options{Tolerant: true})
		if err != nil {
			res.close()
			return nil, nil, fmt.Errorf("source %s: %w", spec, err)
		}
		res.disks = append(res.disks, d)
		update, finish := func(int64, int64) {}, func() {}
		if w.opts.DeepProgress != nil {
			update, finish = w.opts.DeepProgress(spec, d.Size())
		}
		f, path, err := deepscan.Run(ctx, d, d.Size(), spec, deepscan.RunOptions{Options: deepscan.Options{Progress: update}, Dir: dir})
		finish()
		if err != nil {
			res.close()
			if f != nil && !f.Complete() {
				return nil, nil, fmt.Errorf("deep scan of %s stopped at byte %d of %d (saved in %s; scanning again resumes it): %w", spec, f.Done, f.Size, path, err)
			}
			return nil, nil, err
		}
		for _, b := range f.BadRanges {
			res.warnings = append(res.warnings, fmt.Sprintf("%s: bytes %d-%d unreadable, read as zeros", spec, b.Off, b.End()))
		}
		found, err := deepscan.Rebuild(d, f)
		if err != nil {
			res.close()
			return nil, nil, fmt.Errorf("source %s: %w", spec, err)
		}
		for _, r := range found {
			res.vols = append(res.vols, r)
			var counts []string
			for _, k := range []string{deepscan.Intact, deepscan.Deleted, deepscan.Orphan, deepscan.Carved} {
				if n := r.Counts[k]; n > 0 {
					counts = append(counts, fmt.Sprintf("%d %s", n, k))
				}
			}
			infos = append(infos, VolumeInfo{
				Number: len(infos) + 1, Label: r.Label, UUID: r.UUID, Version: r.Version, Extents: 1,
				Deep: true, Source: spec, Origin: r.Origin, Found: strings.Join(counts, ", "),
			})
		}
	}
	return res, infos, nil
}

// scanDeep is Scan with the deep scanner.
func (w *Wizard) scanDeep(ctx context.Context) ([]VolumeInfo, error) {
	w.Close()
	w.st.ScanMode = ScanDeep
	w.st.Volumes, w.st.Volume, w.st.Selected = nil, 0, nil
	res, infos, err := w.runDeep(ctx)
	if err != nil {
		return nil, errors.Join(err, w.save())
	}
	w.deep = res
	w.st.Volumes = infos
	if len(infos) == 0 {
		if err := w.move("Scan", StepScan); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: the deep scan of %s found no VMFS metadata", ErrNothingFound, strings.Join(w.st.Sources, ", "))
	}
	return slices.Clone(infos), w.move("Scan", StepVolume)
}

// deepVolume opens the chosen volume of a deep scan, scanning again (from
// the scan files, quickly) after a resume.
func (w *Wizard) deepVolume(ctx context.Context) (fs.FS, error) {
	if w.deep == nil {
		res, _, err := w.runDeep(ctx)
		if err != nil {
			return nil, err
		}
		w.deep = res
	}
	n := w.st.Volume
	if n > len(w.deep.vols) {
		return nil, fmt.Errorf("%w: the deep scan no longer finds volume %d on %s", ErrBadState, n, strings.Join(w.st.Sources, ", "))
	}
	r := w.deep.vols[n-1]
	if want := w.st.Volumes[n-1]; r.UUID != want.UUID || r.Origin != want.Origin {
		return nil, fmt.Errorf("%w: volume %d is now %q %s, was %q %s", ErrBadState, n, r.Label, r.UUID, want.Label, want.UUID)
	}
	anomalies := slices.Clone(r.Anomalies)
	w.fsys, w.anomalies = r.Tree, func() []string { return anomalies }
	return r.Tree, nil
}

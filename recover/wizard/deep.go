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
)

// runDeep scans every source (or reuses its complete scan file in
// Options.ScanDir) and rebuilds the volumes. A scan interrupted through ctx
// keeps its findings in the scan file and resumes there next time.
func (w *Wizard) runDeep(ctx context.Context) (*deepscan.Sources, []VolumeInfo, error) {
	dir := w.opts.ScanDir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, nil, err
		}
	}
	res, err := deepscan.ScanSources(ctx, w.st.Sources, deepscan.SourcesOptions{Dir: dir, Progress: w.opts.DeepProgress})
	if err != nil {
		return nil, nil, err
	}
	var infos []VolumeInfo
	for _, r := range res.Volumes {
		var counts []string
		for _, k := range []string{deepscan.Intact, deepscan.Deleted, deepscan.Orphan, deepscan.Carved} {
			if n := r.Counts[k]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, k))
			}
		}
		infos = append(infos, VolumeInfo{
			Number: r.Number, Label: r.Label, UUID: r.UUID, Version: r.Version, Extents: 1,
			Deep: true, Source: r.Source, Origin: r.Origin, Found: strings.Join(counts, ", "),
		})
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
	if n > len(w.deep.Volumes) {
		return nil, fmt.Errorf("%w: the deep scan no longer finds volume %d on %s", ErrBadState, n, strings.Join(w.st.Sources, ", "))
	}
	r := w.deep.Volumes[n-1]
	if want := w.st.Volumes[n-1]; r.UUID != want.UUID || r.Origin != want.Origin {
		return nil, fmt.Errorf("%w: volume %d is now %q %s, was %q %s", ErrBadState, n, r.Label, r.UUID, want.Label, want.UUID)
	}
	anomalies := slices.Clone(r.Anomalies)
	w.fsys, w.anomalies = r.Tree, func() []string { return anomalies }
	return r.Tree, nil
}

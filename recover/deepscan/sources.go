package deepscan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmdk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
)

// SourcesOptions tune ScanSources.
type SourcesOptions struct {
	Dir    string // where scan files live (their .vmfsrecover subfolder)
	Rescan bool   // ignore saved scan files
	// Progress, when set, is called once per source and returns the
	// function that receives its progress and the one that ends it.
	Progress ProgressFunc
}

// ProgressFunc is asked for the progress display of the deep scan of one
// source of size bytes. received, for a remote source, counts the bytes
// the network delivered so far (holes an NBD server reports are scanned
// but not received); it is nil for a local source.
type ProgressFunc func(spec string, size int64, received func() int64) (update func(done, total int64), finish func())

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
// scan file, or resumes a partial one) and rebuilds the volumes found; a
// volume spanned over several of the sources is rebuilt across them. A
// scan interrupted through ctx keeps its findings for the next run.
func ScanSources(ctx context.Context, specs []string, opts SourcesOptions) (*Sources, error) {
	s := &Sources{}
	var scans []*Findings
	var paths []string
	for _, spec := range specs {
		d, err := source.Open(spec, source.Options{Tolerant: true})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("source %s: %w", spec, err)
		}
		s.disks = append(s.disks, d)
		update, finish := func(int64, int64) {}, func() {}
		if opts.Progress != nil {
			var received func() int64
			if tr, ok := d.(source.Transferrer); ok {
				received = tr.Transferred
			}
			update, finish = opts.Progress(spec, d.Size(), received)
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
		scans, paths = append(scans, f), append(paths, path)
	}
	bad := make([]allocmap.Map, len(scans))
	for i, f := range scans {
		bad[i] = f.BadRanges
	}
	readers := make([]io.ReaderAt, len(s.disks))
	for i, d := range s.disks {
		readers[i] = d
	}
	spans, warnings := spannedVolumes(readers, scans)
	s.Warnings = append(s.Warnings, warnings...)
	for i, f := range scans {
		for _, r := range rebuild(s.disks[i], f, &layout{src: i, bad: bad, spans: spans[i]}) {
			s.Volumes = append(s.Volumes, Found{Recovered: r, Number: len(s.Volumes) + 1, Source: specs[i], ScanFile: paths[i]})
		}
	}
	return s, nil
}

// spannedVolumes assembles the LVM volumes whose headers say they span
// several devices, from the sources that carry their extents, and returns
// them by source and origin of their first extent. An extent on no source
// reads as zeros (Span.Anomalies); a volume that cannot be assembled is
// rebuilt from its first source alone, with that anomaly.
func spannedVolumes(disks []io.ReaderAt, scans []*Findings) ([]map[int64]*placement, []string) {
	type ext struct {
		member
		h      *vmfs.LVMHeader
		origin int64
	}
	byVolume := map[vmfs.UUID][]ext{}
	var order []vmfs.UUID
	for i, f := range scans {
		for _, hit := range f.LVM {
			d := zeroFill{disks[i]}
			h, err := vmfs.ReadLVMHeader(io.NewSectionReader(d, hit.Partition, f.Size-hit.Partition))
			if err != nil || (h.NumDevs <= 1 && h.FirstPE == 0) {
				continue // not spanned: rebuilt from its origin, as a single source
			}
			if byVolume[h.VolumeUUID] == nil {
				order = append(order, h.VolumeUUID)
			}
			byVolume[h.VolumeUUID] = append(byVolume[h.VolumeUUID], ext{member{i, hit.Partition}, h, hit.Origin})
		}
	}
	out := make([]map[int64]*placement, len(scans))
	var warnings []string
	for _, id := range order {
		exts := byVolume[id]
		first := -1
		for k, e := range exts {
			if e.h.FirstPE == 0 && e.origin >= 0 {
				first = k
			}
		}
		if first < 0 {
			warnings = append(warnings, fmt.Sprintf("LVM volume %s: the disk holding its first extent was not scanned; its file system cannot be rebuilt", id))
			continue
		}
		devs := make([]vmfs.Device, len(exts))
		members := make([]member, len(exts))
		for k, e := range exts {
			devs[k] = io.NewSectionReader(zeroFill{disks[e.src]}, e.partition, scans[e.src].Size-e.partition)
			members[k] = e.member
		}
		f := exts[first]
		if out[f.src] == nil {
			out[f.src] = map[int64]*placement{}
		}
		span, err := vmfs.Assemble(devs)
		if err != nil {
			size := scans[f.src].Size - f.origin
			out[f.src][f.origin] = &placement{src: f.src, origin: f.origin, size: size, dev: io.NewSectionReader(zeroFill{disks[f.src]}, f.origin, size),
				notes: []string{fmt.Sprintf("LVM volume %s spans %d devices but could not be assembled (%v): rebuilt from its first disk alone, files reaching past it are wrong", id, f.h.NumDevs, err)}}
			continue
		}
		out[f.src][f.origin] = &placement{src: f.src, origin: f.origin, size: span.Size(), dev: span, span: span, members: members, notes: span.Anomalies}
	}
	return out, warnings
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

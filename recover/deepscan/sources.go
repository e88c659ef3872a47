package deepscan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/fingerprint"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// SourcesOptions tune ScanSources.
type SourcesOptions struct {
	Dir      string // where scan files live (their .vmfsrecover subfolder)
	Fallback string // where they go when Dir cannot be written (see RunOptions)
	Rescan   bool   // ignore saved scan files
	// Notify, when set, is told what happens to each scan file (from
	// several goroutines, one at a time).
	Notify func(Event)
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

// Source is one opened SOURCE argument: its disk, and the SOURCE as given,
// which names it in messages and identifies its scan file.
type Source struct {
	Spec string
	Disk disk.Disk
}

// Sources is the deep scan of several SOURCE arguments, open for reading.
type Sources struct {
	Volumes  []Found
	Warnings []string // unreadable ranges met
	disks    []disk.Disk
}

// maxParallelScans is how many sources are scanned at once: disks (and
// links) are independent, so several scan in the time of the slowest.
const maxParallelScans = 4

// ScanSources scans every opened source (or reuses its complete scan
// file, or resumes a partial one), up to maxParallelScans at once, and
// rebuilds the volumes found; a volume spanned over several of the sources
// is rebuilt across them. The result owns the disks: its Close closes
// them, and so does ScanSources when it fails. The sources should be
// opened tolerantly (a VMDK with missing parts reading as zeros): the deep
// scan is for damaged disks. opts.Progress is asked for every source
// before any scan starts. A scan interrupted through ctx, or stopped
// because another failed, keeps its findings for the next run.
func ScanSources(ctx context.Context, sources []Source, opts SourcesOptions) (*Sources, error) {
	s := &Sources{}
	type progress struct {
		update func(int64, int64)
		finish func()
	}
	var shows []progress
	sources = s.dropDuplicates(sources)
	specs := make([]string, len(sources))
	for i, src := range sources {
		specs[i] = src.Spec
		s.disks = append(s.disks, src.Disk)
		p := progress{func(int64, int64) {}, func() {}}
		if opts.Progress != nil {
			var received func() int64
			if tr, ok := src.Disk.(disk.Transferrer); ok {
				received = tr.Transferred
			}
			p.update, p.finish = opts.Progress(src.Spec, src.Disk.Size(), received)
		}
		shows = append(shows, p)
	}
	guard := writeguard.ForSources(specs)
	scans := make([]*Findings, len(specs))
	paths := make([]string, len(specs))
	errs := make([]error, len(specs))
	scanCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var notifyMu sync.Mutex
	notify := func(e Event) {
		if opts.Notify != nil {
			notifyMu.Lock()
			defer notifyMu.Unlock()
			opts.Notify(e)
		}
	}
	slots := make(chan struct{}, maxParallelScans)
	for i, d := range s.disks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			scans[i], paths[i], errs[i] = Run(scanCtx, d, d.Size(), specs[i], RunOptions{
				Options: Options{Progress: shows[i].update},
				Dir:     opts.Dir, Fallback: opts.Fallback, Rescan: opts.Rescan, Notify: notify, Guard: guard,
			})
			shows[i].finish()
			if errs[i] != nil {
				cancel() // the others save where they are and stop
			}
		}()
	}
	wg.Wait()
	if err := firstScanError(specs, scans, paths, errs); err != nil {
		s.Close()
		return nil, err
	}
	bad := make([]allocmap.Map, len(scans))
	for i, f := range scans {
		bad[i] = f.BadRanges
		for _, b := range f.BadRanges {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: bytes %d-%d unreadable, read as zeros", specs[i], b.Off, b.End()))
		}
	}
	readers := make([]io.ReaderAt, len(s.disks))
	for i, d := range s.disks {
		readers[i] = d
	}
	spans, warnings := spannedVolumes(readers, scans)
	s.Warnings = append(s.Warnings, warnings...)
	for i, f := range scans {
		for _, r := range rebuild(s.disks[i], f, &layout{src: i, bad: bad, spans: spans[i]}) {
			r.Anomalies = append(r.Anomalies, metadataLost(r.Tree)...)
			s.Volumes = append(s.Volumes, Found{Recovered: r, Number: len(s.Volumes) + 1, Source: specs[i], ScanFile: paths[i]})
		}
	}
	return s, nil
}

// dropDuplicates closes and leaves out the sources that are the same disk
// as an earlier one, with a warning: scanning it twice would list every
// volume twice.
func (s *Sources) dropDuplicates(sources []Source) []Source {
	disks := make([]io.ReaderAt, len(sources))
	sizes := make([]int64, len(sources))
	for i, src := range sources {
		disks[i], sizes[i] = src.Disk, src.Disk.Size()
	}
	var kept []Source
	for i, dup := range fingerprint.Duplicates(disks, sizes) {
		if dup >= 0 {
			s.Warnings = append(s.Warnings, fingerprint.SameDisk(sources[i].Spec, sources[dup].Spec))
			sources[i].Disk.Close()
			continue
		}
		kept = append(kept, sources[i])
	}
	return kept
}

// firstScanError is the error of the scans to report: the first that is
// not a cancellation caused by another's failure, said with where the
// scan stopped and whether that was saved.
func firstScanError(specs []string, scans []*Findings, paths []string, errs []error) error {
	pick := -1
	for i, err := range errs {
		if err != nil && (pick < 0 || errors.Is(errs[pick], context.Canceled) && !errors.Is(err, context.Canceled)) {
			pick = i
		}
	}
	if pick < 0 {
		return nil
	}
	switch f := scans[pick]; {
	case f == nil || f.Complete():
	case paths[pick] == "":
		return fmt.Errorf("deep scan of %s stopped at byte %d of %d, not saved (no scan file could be written), so scanning again starts over: %w", specs[pick], f.Done, f.Size, errs[pick])
	default:
		return fmt.Errorf("deep scan of %s stopped at byte %d of %d (saved in %s; scanning again resumes it): %w", specs[pick], f.Done, f.Size, paths[pick], errs[pick])
	}
	return errs[pick]
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
			out[f.src][f.origin] = single(f.src, zeroFill{disks[f.src]}, f.origin, scans[f.src].Size,
				fmt.Sprintf("LVM volume %s spans %d devices but could not be assembled (%v): rebuilt from its first disk alone, files reaching past it are wrong", id, f.h.NumDevs, err))
			continue
		}
		out[f.src][f.origin] = &placement{src: f.src, origin: f.origin, dev: span, span: span, members: members, notes: span.Anomalies}
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
	var match []string
	pick := -1
	for i, v := range vols {
		if v.Label == sel || v.UUID == sel {
			match = append(match, fmt.Sprintf("%d: %q %s on %s at offset %d", v.Number, v.Label, v.UUID, v.Source, v.Origin))
			pick = i
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("no volume %q among the %d the deep scan found", sel, len(vols))
	case 1:
		return &vols[pick], nil
	}
	return nil, fmt.Errorf("%w: %d volumes the deep scan found match %q; choose one by number or UUID: %s", discover.ErrAmbiguous, len(match), sel, strings.Join(match, "; "))
}

// systemFiles are the VMFS metadata files at a volume's root and what they
// hold, for saying what a lost range of one of them cost.
var systemFiles = []struct{ name, holds string }{
	{".fdc.sf", "file descriptors: files whose descriptors lay there are missing or orphaned"},
	{".pbc.sf", "pointer blocks: files mapped through them read zeros there"},
	{".pb2.sf", "secondary pointer blocks: large files mapped through them read zeros there"},
	{".sbc.sf", "sub-blocks: small files and directories stored there read zeros"},
	{".fbb.sf", "the file-block bitmap: which blocks were in use"},
	{".vh.sf", "the volume header"},
	{".sdd.sf", "system data"},
	{".jbc.sf", "the journal"},
}

// metadataLost says which of the volume's metadata files lost bytes in
// unreadable ranges of the source, and what that costs: the structures
// that lay there, not only the user files that did.
func metadataLost(t *Tree) []string {
	if t == nil {
		return nil
	}
	var out []string
	for _, sf := range systemFiles {
		info, err := t.Stat(sf.name)
		if err != nil {
			continue
		}
		f, ok := info.Sys().(*Finding)
		if !ok {
			continue
		}
		for _, r := range f.lost {
			out = append(out, fmt.Sprintf("/%s, %s: %s", sf.name, sf.holds, unreadable(r)))
		}
	}
	return out
}

package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

// Options say how sources are read.
type Options struct {
	Tolerant bool // open damaged volumes and VMDKs, reading what is missing as zeros
	ProbeAll bool // probe every 1 MiB boundary when no partition table names VMFS
	// Deep reads every byte of the sources (package deepscan) instead of
	// looking for intact volumes.
	Deep bool
	// Rescan ignores saved deep-scan files.
	Rescan bool
	// ScanDir is the folder whose .vmfsrecover/ keeps deep-scan files;
	// empty means the working directory, or the user's cache folder when
	// that cannot be written.
	ScanDir string
	// DeepProgress, when set, is asked for a progress display of the deep
	// scan of each source.
	DeepProgress deepscan.ProgressFunc
	// Notify, when set, is told what happens to each deep-scan file
	// (reused, saved, not saved).
	Notify func(deepscan.Event)
	// Maps names, by SOURCE, the GNU ddrescue mapfile of an image (see
	// source.Options.Maps).
	Maps map[string]string
	// RAID, when set, reads the sources as the members of one RAID array:
	// "auto", a spec or "@FILE" (see source.RAID).
	RAID string
}

// VolumeInfo is one volume a scan found, as front ends show it and the
// wizard saves it.
type VolumeInfo struct {
	Number    int    `json:"number"`
	Label     string `json:"label"`
	UUID      string `json:"uuid"`
	Version   int    `json:"vmfs_version"`
	Size      int64  `json:"size"`
	Extents   int    `json:"extents"`
	Missing   int    `json:"missing_extents,omitempty"`
	OpenError string `json:"open_error,omitempty"`
	// Deep-scan volumes: the source they were rebuilt from, where they
	// start on it, and what was found by provenance.
	Deep   bool   `json:"deep,omitempty"`
	Source string `json:"source,omitempty"`
	Origin int64  `json:"origin,omitempty"`
	Found  string `json:"found,omitempty"`
	// Guest: not a VMFS volume but the sources read as a VM's disks
	// (Scan.OpenGuests), when they hold no VMFS volume.
	Guest bool `json:"guest,omitempty"`
}

func (v VolumeInfo) String() string {
	if v.Guest {
		return fmt.Sprintf("%d: %s", v.Number, v.Label)
	}
	if v.Deep {
		return fmt.Sprintf("%d: %q VMFS%d %s, rebuilt from %s at byte %d: %s", v.Number, v.Label, v.Version, v.UUID, v.Source, v.Origin, v.Found)
	}
	s := fmt.Sprintf("%d: %q VMFS%d %s, %s", v.Number, v.Label, v.Version, preview.Size(v.Size), v.UUID)
	if v.Extents > 1 || v.Missing > 0 {
		s += fmt.Sprintf(", %d extent(s)", v.Extents)
	}
	if v.Missing > 0 {
		s += fmt.Sprintf(", %d MISSING", v.Missing)
	}
	if v.OpenError != "" {
		s += ", cannot open: " + v.OpenError
	}
	return s
}

// Scan is a set of sources, open for reading, and the volumes found on
// them.
type Scan struct {
	Sources []string
	// RAID is the spec the sources were assembled with as the members of
	// one array (what detection assumed, written out in full), when
	// Options.RAID asked for it: passing it back as Options.RAID assembles
	// the same array without detecting again.
	RAID    string
	Volumes []VolumeInfo
	opts    Options
	quick   *discover.Session
	deep    *deepscan.Sources
}

// ScanSources opens the sources read-only and finds the volumes on them, by
// the quick scan or, with opts.Deep, by the deep scan (which reuses or
// resumes its scan files). On error nothing stays open.
func ScanSources(ctx context.Context, sources []string, opts Options) (*Scan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Scan{Sources: slices.Clone(sources), opts: opts}
	if !opts.Deep {
		var srcs []discover.Source
		var note string
		var err error
		if opts.RAID != "" {
			var d source.Disk
			var spec string
			spec, d, note, err = raidSource(sources, opts, opts.Tolerant)
			srcs, s.RAID = []discover.Source{{Spec: spec, Disk: d}}, spec
		} else {
			srcs, err = source.ForDiscover(sources, source.Options{Tolerant: opts.Tolerant, Maps: opts.Maps})
		}
		if err != nil {
			return nil, err
		}
		q, err := discover.Open(srcs, discover.Options{Tolerant: opts.Tolerant, ProbeAll: opts.ProbeAll})
		if err != nil {
			return nil, err
		}
		if note != "" {
			q.Warnings = append([]string{note}, q.Warnings...)
		}
		s.quick = q
		for i, v := range q.Volumes {
			s.Volumes = append(s.Volumes, VolumeInfo{
				Number: i + 1, Label: v.Label, UUID: v.UUID, Version: v.Version, Size: v.Size,
				Extents: len(v.Set.Extents), Missing: v.Set.Missing, OpenError: v.OpenError,
			})
		}
		return s, nil
	}
	dir, fallback := opts.ScanDir, ""
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, err
		}
		if cache, err := os.UserCacheDir(); err == nil {
			fallback = filepath.Join(cache, "vmfsrecover")
		}
	}
	var srcs []deepscan.Source
	var note string
	var err error
	if opts.RAID != "" {
		var d source.Disk
		var spec string
		spec, d, note, err = raidSource(sources, opts, true)
		srcs, s.RAID = []deepscan.Source{{Spec: spec, Disk: d}}, spec
	} else {
		srcs, err = source.ForDeepScan(sources, source.Options{Maps: opts.Maps})
	}
	if err != nil {
		return nil, err
	}
	d, err := deepscan.ScanSources(ctx, srcs, deepscan.SourcesOptions{
		Dir: dir, Fallback: fallback, Rescan: opts.Rescan, Progress: opts.DeepProgress, Notify: opts.Notify,
	})
	if err != nil {
		return nil, err
	}
	if note != "" {
		d.Warnings = append([]string{note}, d.Warnings...)
	}
	s.deep = d
	for _, r := range d.Volumes {
		var counts []string
		for _, k := range []string{deepscan.Intact, deepscan.Deleted, deepscan.Orphan, deepscan.Carved} {
			if n := r.Counts[k]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, k))
			}
		}
		s.Volumes = append(s.Volumes, VolumeInfo{
			Number: r.Number, Label: r.Label, UUID: r.UUID, Version: r.Version, Extents: 1,
			Deep: true, Source: r.Source, Origin: r.Origin, Found: strings.Join(counts, ", "),
		})
	}
	return s, nil
}

// Array is the RAID array the quick scan read the sources as (Options.RAID),
// or nil.
func (s *Scan) Array() *raid.Array {
	if s.quick == nil || len(s.quick.Sources) != 1 {
		return nil
	}
	a, _ := s.quick.Sources[0].Disk.(*raid.Array)
	return a
}

// Deep reports whether the volumes come from the deep scan.
func (s *Scan) Deep() bool { return s.deep != nil }

// Discovered is what the quick scan found, in the detail package discover
// gives (partitions, LVM extents, block sizes); nil after a deep scan.
func (s *Scan) Discovered() *discover.Session { return s.quick }

// Rebuilt are the volumes the deep scan rebuilt, with their evidence and
// scan files; nil after a quick scan.
func (s *Scan) Rebuilt() []deepscan.Found {
	if s.deep == nil {
		return nil
	}
	return s.deep.Volumes
}

// Warnings are the anomalies met while opening and scanning the sources.
func (s *Scan) Warnings() []string {
	if s.deep != nil {
		return slices.Clone(s.deep.Warnings)
	}
	return slices.Clone(s.quick.Warnings)
}

// Close closes the sources.
func (s *Scan) Close() error {
	if s.deep != nil {
		return s.deep.Close()
	}
	return s.quick.Close()
}

// Select picks a volume by its 1-based number, label or UUID; an empty
// selector picks the only one there is. It returns the volume's number.
func (s *Scan) Select(sel string) (int, error) {
	if s.deep != nil {
		f, err := deepscan.Select(s.deep.Volumes, sel)
		if err != nil {
			return 0, err
		}
		for i := range s.deep.Volumes {
			if &s.deep.Volumes[i] == f {
				return i + 1, nil
			}
		}
		return 0, fmt.Errorf("volume %q not among those found", sel)
	}
	v, err := s.quick.Select(sel)
	if err != nil {
		return 0, err
	}
	for i := range s.quick.Volumes {
		if &s.quick.Volumes[i] == v {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("volume %q not among those found", sel)
}

// ErrChanged: the volume at a number is no longer the one a saved choice
// names (the sources changed since).
var ErrChanged = errors.New("the sources changed")

// Volume is an opened volume as a file system: a *vmfs.Volume after a
// quick scan, a *deepscan.Tree after a deep one, a *guest.Tree when the
// sources are virtual disks (OpenGuests), or one of the first two through
// a guest.Datastore (EnterDisks).
type Volume struct {
	FS        fs.FS
	anomalies func() []string
	warnings  func() []string // of the guest disks (EnterDisks, OpenGuests)
	close     func() error
	// sourceArgs reach the volume from the command line (Scan.sourceArgs).
	sourceArgs string
}

// Anomalies are the damage met so far while reading the volume.
func (v *Volume) Anomalies() []string { return v.anomalies() }

// Open opens the volume with the given 1-based number; strict unless the
// scan is tolerant (a spanned volume with missing extents then fails).
// want, when not nil, is the volume as a saved choice knows it: a volume
// that is now another one is ErrChanged.
func (s *Scan) Open(number int, want *VolumeInfo) (*Volume, error) {
	if number < 1 || number > len(s.Volumes) {
		return nil, fmt.Errorf("%w: volume %d is no longer found on %s", ErrChanged, number, strings.Join(s.Sources, ", "))
	}
	info := s.Volumes[number-1]
	if want != nil && (info.UUID != want.UUID || info.Origin != want.Origin) {
		return nil, fmt.Errorf("%w: volume %d is now %q %s, was %q %s", ErrChanged, number, info.Label, info.UUID, want.Label, want.UUID)
	}
	if s.deep != nil {
		r := s.deep.Volumes[number-1]
		anomalies := slices.Clone(r.Anomalies)
		return &Volume{FS: r.Tree, anomalies: func() []string { return anomalies }, sourceArgs: s.sourceArgs(number)}, nil
	}
	vol, err := s.quick.OpenVolume(&s.quick.Volumes[number-1])
	if err != nil {
		return nil, err
	}
	return &Volume{FS: vol, anomalies: vol.Anomalies, sourceArgs: s.sourceArgs(number)}, nil
}

// sourceArgs are the arguments by which a vmfsrecover command reads the
// volume with the given number as this scan does, shell-quoted: the
// options that change what is read, then the SOURCEs (ended by -- when
// several), for the commands printed in hints.
func (s *Scan) sourceArgs(number int) string {
	var args []string
	if s.opts.Tolerant {
		args = append(args, "--tolerant")
	}
	if s.opts.ProbeAll {
		args = append(args, "--probe-all")
	}
	if s.deep != nil {
		args = append(args, "--deep")
		if s.opts.ScanDir != "" {
			args = append(args, "--scan-dir", s.opts.ScanDir)
		}
	}
	if s.RAID != "" {
		args = append(args, "--raid", s.RAID)
	}
	for _, src := range s.Sources {
		if m := s.opts.Maps[src]; m != "" {
			if len(s.Sources) > 1 {
				m = src + "=" + m
			}
			args = append(args, "--map", m)
		}
	}
	if len(s.Volumes) > 1 {
		args = append(args, "--volume", strconv.Itoa(number))
	}
	args = append(args, s.Sources...)
	if len(s.Sources) > 1 {
		return textout.ShellQuoteAll(args) + " --"
	}
	return textout.ShellQuoteAll(args)
}

// OpenVolume scans the sources and opens the volume sel names (see Select):
// the path of every command that reads one volume. The scan is returned
// for its warnings and must be closed by the caller; on error nothing
// stays open.
func OpenVolume(ctx context.Context, sources []string, sel string, opts Options) (*Volume, *Scan, error) {
	s, err := ScanSources(ctx, sources, opts)
	if err != nil {
		return nil, nil, err
	}
	n, err := s.Select(sel)
	var v *Volume
	if err == nil {
		v, err = s.Open(n, nil)
	}
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return v, s, nil
}

package discover

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/fingerprint"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
)

// Options tune discovery.
type Options struct {
	Tolerant bool // open damaged volumes, reading what is missing as zeros
	ProbeAll bool // probe every 1 MiB boundary when no partition table names VMFS
}

// ErrNoVolume: no VMFS volume was found on the sources.
var ErrNoVolume = errors.New("no VMFS volume found")

// ErrAmbiguous: a volume selector names more than one volume.
var ErrAmbiguous = errors.New("ambiguous volume")

// Session holds the open sources and what was found on them.
type Session struct {
	Sources  []Source
	Volumes  []Volume
	Warnings []string
	opts     Options
}

// Source is one opened SOURCE argument.
type Source struct {
	Spec string    `json:"source"` // the SOURCE as given, to name it in messages
	Size int64     `json:"size"`   // filled in by Open
	Disk disk.Disk `json:"-"`
}

// Volume is one volume found, with what its descriptor says when it opens.
type Volume struct {
	Set       vmfs.VolumeSet `json:"lvm"`
	Label     string         `json:"label"`
	UUID      string         `json:"uuid"`
	Version   int            `json:"vmfs_version"`
	Major     uint32         `json:"fs_major"`
	Minor     uint8          `json:"fs_minor"`
	Size      int64          `json:"size"`
	BlockSize int64          `json:"block_size"`
	VMFSL     bool           `json:"vmfs_l,omitempty"`
	OpenError string         `json:"open_error,omitempty"`
	// Truncated is how many bytes the sources lack to hold the extents
	// their LVM headers map (a truncated image); they read as zeros.
	Truncated int64 `json:"truncated_bytes,omitempty"`
}

// Open finds the volumes on the opened sources, which the session then
// owns: Close closes them, and so does Open when it fails.
func Open(sources []Source, opts Options) (*Session, error) {
	s := &Session{opts: opts}
	disks := make([]io.ReaderAt, len(sources))
	sizes := make([]int64, len(sources))
	for i, src := range sources {
		disks[i], sizes[i] = src.Disk, src.Disk.Size()
	}
	for i, dup := range fingerprint.Duplicates(disks, sizes) {
		src := sources[i]
		if dup >= 0 {
			s.Warnings = append(s.Warnings, fingerprint.SameDisk(src.Spec, sources[dup].Spec))
			src.Disk.Close()
			continue
		}
		src.Size = sizes[i]
		s.Sources = append(s.Sources, src)
	}
	var cands []vmfs.Candidate
	for i, src := range s.Sources {
		found, warnings, err := vmfs.Find(src.Disk, src.Size, vmfs.FindOptions{ProbeAll: opts.ProbeAll})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("source %s: %w", src.Spec, err)
		}
		for _, w := range warnings {
			s.Warnings = append(s.Warnings, src.Spec+": "+w)
		}
		for _, c := range found {
			c.Disk = i
			cands = append(cands, c)
		}
	}
	for _, set := range vmfs.Group(cands) {
		v := Volume{Set: set}
		for _, c := range set.Extents {
			if short := extentEnd(c) - c.Size; short > 0 {
				v.Truncated += short
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: the LVM header at offset %d maps the volume up to byte %d of the extent, but the source holds %d bytes from there: the image is truncated, %d bytes are missing",
					s.Sources[c.Disk].Spec, c.Offset, extentEnd(c), c.Size, short))
			}
		}
		if vol, err := s.openSet(set, true); err != nil {
			v.OpenError = err.Error()
		} else {
			d := vol.Descriptor()
			v.Label, v.UUID, v.Version, v.Major, v.Minor = d.Label, d.UUID.String(), d.Version(), d.Major, d.Minor
			v.Size, v.BlockSize, v.VMFSL = vol.Size(), d.BlockSize, d.IsVMFSL()
		}
		s.Volumes = append(s.Volumes, v)
	}
	return s, nil
}

// extentEnd is how many bytes from its start an extent's LVM header maps
// (the end of its last physical extent).
func extentEnd(c vmfs.Candidate) int64 {
	var end int64
	if c.Header == nil {
		return 0
	}
	for _, pe := range c.Header.PEs {
		end = max(end, pe.Physical+pe.Length)
	}
	return end
}

// Close closes every source.
func (s *Session) Close() error {
	var errs []error
	for _, src := range s.Sources {
		errs = append(errs, src.Disk.Close())
	}
	return errors.Join(errs...)
}

// Select picks a volume by its label, FS UUID, LVM UUID or 1-based index;
// an empty selector picks the only volume there is.
func (s *Session) Select(sel string) (*Volume, error) {
	if len(s.Volumes) == 0 {
		return nil, fmt.Errorf("%w on %s", ErrNoVolume, s.specs())
	}
	if sel == "" {
		if len(s.Volumes) > 1 {
			return nil, fmt.Errorf("%d volumes found on %s; choose one with --volume (label, UUID or number): %s",
				len(s.Volumes), s.specs(), s.describe())
		}
		return &s.Volumes[0], nil
	}
	if n, err := strconv.Atoi(sel); err == nil && n >= 1 && n <= len(s.Volumes) {
		return &s.Volumes[n-1], nil
	}
	var match []int
	for i, v := range s.Volumes {
		if v.Label == sel || v.UUID == sel || v.Set.UUID.String() == sel {
			match = append(match, i)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("no volume %q on %s; found: %s", sel, s.specs(), s.describe())
	case 1:
		return &s.Volumes[match[0]], nil
	}
	return nil, fmt.Errorf("%w: %d volumes match %q; choose one with --volume by number or UUID: %s", ErrAmbiguous, len(match), sel, s.describe(match...))
}

// OpenVolume opens a found volume; strict unless the session is tolerant.
// A volume spanning more devices than were given is ErrExtentMissing,
// naming how many are missing, unless the session is tolerant.
func (s *Session) OpenVolume(v *Volume) (*vmfs.Volume, error) {
	if v.Set.Missing > 0 && !s.opts.Tolerant {
		return nil, fmt.Errorf("%w: volume %q spans %d devices but %d were given; pass every extent as a source, or read tolerantly to see the missing ones as zeros",
			vmfs.ErrExtentMissing, v.Label, len(v.Set.Extents)+v.Set.Missing, len(v.Set.Extents))
	}
	return s.openSet(v.Set, s.opts.Tolerant)
}

func (s *Session) openSet(set vmfs.VolumeSet, tolerant bool) (*vmfs.Volume, error) {
	devs := make([]vmfs.Device, len(set.Extents))
	for i, c := range set.Extents {
		devs[i] = disk.NewSection(s.Sources[c.Disk].Disk, c.Offset, c.Size)
	}
	return vmfs.Open(devs, vmfs.Options{Tolerant: tolerant})
}

func (s *Session) specs() string {
	var names []string
	for _, src := range s.Sources {
		names = append(names, src.Spec)
	}
	return strings.Join(names, ", ")
}

// describe lists the volumes (those at the given indexes, or all) by
// number, label, UUID and the sources they are on.
func (s *Session) describe(which ...int) string {
	if which == nil {
		for i := range s.Volumes {
			which = append(which, i)
		}
	}
	var parts []string
	for _, i := range which {
		v := s.Volumes[i]
		var on []string
		for _, e := range v.Set.Extents {
			on = append(on, s.Sources[e.Disk].Spec)
		}
		parts = append(parts, fmt.Sprintf("%d: %q %s on %s", i+1, v.Label, v.UUID, strings.Join(on, "+")))
	}
	return strings.Join(parts, "; ")
}

// OpenVolume finds the volumes on the opened sources and opens the one
// sel names (see Select and Session.OpenVolume): the path of every command
// that reads one volume. The session is returned for its warnings and must
// be closed by the caller; on error the sources are closed.
func OpenVolume(sources []Source, sel string, opts Options) (*vmfs.Volume, *Session, error) {
	s, err := Open(sources, opts)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.Select(sel)
	var vol *vmfs.Volume
	if err == nil {
		vol, err = s.OpenVolume(v)
	}
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return vol, s, nil
}

package source

import (
	"errors"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/mapfile"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// Options tune Open.
type Options struct {
	// Tolerant opens VMDKs with missing extents or parents, reading the
	// missing parts as zeros (see vmdk.Options).
	Tolerant bool
	// UnmappedFromParent reads the grains a guest unmapped in an SESparse
	// snapshot from its parent (see vmdk.Options).
	UnmappedFromParent bool
	// Maps names, by SOURCE, the GNU ddrescue mapfile of an image made of
	// a failing disk: what the map does not mark rescued reads as zeros
	// and is reported lost (disk.WithBadRanges), never passed off as data.
	Maps map[string]string
}

func (o Options) vmdkOptions() *vmdk.Options {
	return &vmdk.Options{Tolerant: o.Tolerant, UnmappedFromParent: o.UnmappedFromParent}
}

// Open opens a SOURCE read-only: a VMDK (descriptor, sparse or delta, with
// its extents and parents) through package vmdk, anything else (a disk or
// partition image, a block device, an NBD export) as a raw disk through
// package disk. ssh://user@host[:port]/path opens the path on that host
// the same way, a VMDK finding its extents and parents there.
// Its errors name the SOURCE: "source SPEC: ..." for a local one, the
// target URL, as package remote writes it, for a remote one.
func Open(spec string, opts Options) (disk.Disk, error) {
	loc, err := disk.Locate(spec, disk.Options{})
	if errors.Is(err, disk.ErrNotPath) {
		return disk.Open(spec, disk.Options{})
	}
	if err != nil {
		return nil, err
	}
	raw, err := loc.Open()
	if err != nil {
		loc.Close()
		return nil, err
	}
	isVMDK, err := vmdk.IsVMDK(raw, raw.Size())
	if err != nil || !isVMDK {
		if err != nil {
			raw.Close()
			loc.Close()
			return nil, located(loc, err)
		}
		return loc.Own(raw), nil
	}
	raw.Close()
	d, closeFn, err := openVMDK(loc, opts)
	if err != nil {
		return nil, err
	}
	if d.Size() == 0 {
		closeFn()
		return nil, located(loc, ErrEmpty)
	}
	if loc.Remote() {
		return &remoteVMDK{Disk: d, loc: loc}, nil
	}
	return d, nil
}

// located names the SOURCE of loc in an error, as Open's errors do.
func located(loc *disk.Location, err error) error {
	if loc.Remote() {
		return fmt.Errorf("%s: %w", loc, err)
	}
	return fmt.Errorf("source %s: %s: %w", loc.Spec, loc.Spec, err)
}

// openVMDK opens the VMDK at loc; closing the returned disk closes loc
// (ends the connection to the host) too. On error loc is closed.
func openVMDK(loc *disk.Location, opts Options) (*vmdk.Disk, func() error, error) {
	if !loc.Remote() {
		d, err := vmdk.Open(loc.Spec, opts.vmdkOptions())
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", loc.Spec, err)
		}
		return d, d.Close, nil
	}
	// vmdk reads descriptors, extents and parents through the host's file
	// system, so a VMDK on the host finds its extents there.
	d, err := vmdk.OpenFS(loc.FS, loc.Name, opts.vmdkOptions())
	if err != nil {
		loc.Close()
		return nil, nil, fmt.Errorf("%s: %w", loc, err)
	}
	rd := &remoteVMDK{Disk: d, loc: loc}
	return d, rd.Close, nil
}

// ErrEmpty reports a source of zero bytes.
var ErrEmpty = disk.ErrEmpty

// OpenVMDK opens a VMDK (or raw image) SOURCE as a *vmdk.Disk, for the
// commands that describe or convert the virtual disk itself (info, dump):
// a local path, or ssh://user@host/path, whose extents and parents are
// read on that host. An nbd:// export is a disk, not a VMDK file, and is
// refused. A disk of zero bytes (/dev/null, an empty file) is ErrEmpty.
// The returned function closes the disk and its connection.
func OpenVMDK(spec string, opts Options) (*vmdk.Disk, func() error, error) {
	d, closeDisk, err := openVMDKSpec(spec, opts)
	if err != nil {
		return nil, nil, err
	}
	if d.Size() == 0 {
		closeDisk()
		return nil, nil, fmt.Errorf("%s: %w", spec, ErrEmpty)
	}
	return d, closeDisk, nil
}

func openVMDKSpec(spec string, opts Options) (*vmdk.Disk, func() error, error) {
	if !remote.IsRemote(spec) {
		d, err := vmdk.Open(spec, opts.vmdkOptions())
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}
	loc, err := disk.Locate(spec, disk.Options{})
	if errors.Is(err, disk.ErrNotPath) {
		t, _ := remote.ParseTarget(spec)
		return nil, nil, fmt.Errorf("%w: %s: an NBD export is a whole disk, not a VMDK file; scan, ls, cat and export read it", remote.ErrBadURL, t)
	}
	if err != nil {
		return nil, nil, err
	}
	return openVMDK(loc, opts)
}

// remoteVMDK is a VMDK read on a host: closing it ends the connection.
type remoteVMDK struct {
	*vmdk.Disk
	loc *disk.Location
}

func (d *remoteVMDK) Close() error {
	err := d.Disk.Close()
	if cerr := d.loc.Close(); err == nil {
		err = cerr
	}
	return err
}

// Transferred is the number of bytes read from the host so far.
func (d *remoteVMDK) Transferred() int64 { return d.loc.Transferred() }

// OpenAll opens every SOURCE (see Open); when one fails, those already
// open are closed.
func OpenAll(specs []string, opts Options) ([]Disk, error) {
	var disks []Disk
	for _, spec := range specs {
		d, err := Open(spec, opts)
		if err == nil && opts.Maps[spec] != "" {
			d, err = withMap(d, opts.Maps[spec])
		}
		if err != nil {
			for _, d := range disks {
				d.Close()
			}
			return nil, err
		}
		disks = append(disks, d)
	}
	return disks, nil
}

// ForDiscover opens every SOURCE for package discover, which then owns
// the disks.
func ForDiscover(specs []string, opts Options) ([]discover.Source, error) {
	disks, err := OpenAll(specs, opts)
	if err != nil {
		return nil, err
	}
	srcs := make([]discover.Source, len(disks))
	for i, d := range disks {
		srcs[i] = discover.Source{Spec: specs[i], Disk: d}
	}
	return srcs, nil
}

// withMap reads the mapfile at path and returns d with the ranges it does
// not mark rescued known lost; d is closed on error.
func withMap(d Disk, path string) (Disk, error) {
	m, err := mapfile.ReadFile(path, d.Size())
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("--map: %w", err)
	}
	return disk.WithBadRanges(d, m.Lost()), nil
}

// ForDeepScan opens every SOURCE for deepscan.ScanSources, which then owns
// the disks. A deep scan reads damaged disks: a VMDK opens tolerantly, its
// missing parts reading as zeros.
func ForDeepScan(specs []string, opts Options) ([]deepscan.Source, error) {
	opts.Tolerant = true
	disks, err := OpenAll(specs, opts)
	if err != nil {
		return nil, err
	}
	srcs := make([]deepscan.Source, len(disks))
	for i, d := range disks {
		srcs[i] = deepscan.Source{Spec: specs[i], Disk: d}
	}
	return srcs, nil
}

package source

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
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
}

func (o Options) vmdkOptions() *vmdk.Options {
	return &vmdk.Options{Tolerant: o.Tolerant, UnmappedFromParent: o.UnmappedFromParent}
}

// Open opens a SOURCE read-only: a VMDK (descriptor, sparse or delta, with
// its extents and parents) through package vmdk, anything else (a disk or
// partition image, a block device) as a raw disk. A SOURCE with a scheme is
// remote (package remote): ssh://user@host[:port]/path opens the path on
// that host the same way, nbd://host[:port]/export reads an NBD export.
// Its errors name the SOURCE: "source SPEC: ..." for a local one, the
// target URL, as package remote writes it, for a remote one.
func Open(spec string, opts Options) (Disk, error) {
	if remote.IsRemote(spec) {
		return openRemote(spec, opts)
	}
	d, err := openLocal(spec, opts)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec, err)
	}
	return d, nil
}

func openLocal(spec string, opts Options) (Disk, error) {
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a disk, image or VMDK", spec)
	}
	d, err := vmdk.Open(spec, opts.vmdkOptions())
	if err != nil {
		return nil, err
	}
	if d.Size() == 0 {
		d.Close()
		return nil, fmt.Errorf("%s: %w", spec, ErrEmpty)
	}
	return d, nil
}

// target parses a remote SOURCE and reads the options of remote sources
// from the environment (see remote.OptionsFromEnv).
func target(spec string) (remote.Target, remote.Options, error) {
	t, err := remote.ParseTarget(spec)
	if err != nil {
		return t, remote.Options{}, err
	}
	ro, err := remote.OptionsFromEnv()
	return t, ro, err
}

// openRemote opens an ssh:// or nbd:// SOURCE.
func openRemote(spec string, opts Options) (Disk, error) {
	t, ro, err := target(spec)
	if err != nil {
		return nil, err
	}
	if t.Scheme == "nbd" {
		d, err := remote.OpenNBD(t, ro)
		if err != nil {
			return nil, err
		}
		if d.Size() == 0 {
			d.Close()
			return nil, fmt.Errorf("%s: %w", t, ErrEmpty)
		}
		return d, nil
	}
	d, fsys, err := openSSHVMDK(t, ro, opts)
	if err != nil {
		return nil, err
	}
	if d.Size() == 0 {
		d.Close()
		fsys.Close()
		return nil, fmt.Errorf("%s: %w", t, ErrEmpty)
	}
	return &sshDisk{Disk: d, fsys: fsys}, nil
}

// Transferrer is implemented by remote disks: the bytes read over the
// network so far, for a transfer rate in progress displays.
type Transferrer interface {
	Transferred() int64
}

// dialPath connects to the host of an ssh:// target and returns its file
// system and the target's path in it.
func dialPath(t remote.Target, ro remote.Options) (*remote.FS, string, error) {
	fsys, err := remote.DialSSH(t, ro)
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimPrefix(path.Clean(t.Path), "/")
	if name == "" {
		name = "."
	}
	return fsys, name, nil
}

func openSSHVMDK(t remote.Target, ro remote.Options, opts Options) (*vmdk.Disk, *remote.FS, error) {
	fsys, name, err := dialPath(t, ro)
	if err != nil {
		return nil, nil, err
	}
	// vmdk reads descriptors, extents and parents through fsys, so a VMDK
	// on the host finds its extents there; anything else reads as raw.
	d, err := vmdk.OpenFS(fsys, name, opts.vmdkOptions())
	if err != nil {
		fsys.Close()
		return nil, nil, fmt.Errorf("%s: %w", t, err)
	}
	return d, fsys, nil
}

// OpenVMDK opens a VMDK (or raw image) SOURCE as a *vmdk.Disk, for the
// commands that describe or convert the virtual disk itself (info, dump):
// a local path, or ssh://user@host/path, whose extents and parents are
// read on that host. An nbd:// export is a disk, not a VMDK file, and is
// refused. The returned function closes the disk and its connection.
func OpenVMDK(spec string, opts Options) (*vmdk.Disk, func() error, error) {
	if !remote.IsRemote(spec) {
		d, err := vmdk.Open(spec, opts.vmdkOptions())
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}
	t, ro, err := target(spec)
	if err != nil {
		return nil, nil, err
	}
	if t.Scheme != "ssh" {
		return nil, nil, fmt.Errorf("%w: %s: an NBD export is a whole disk, not a VMDK file; scan, ls, cat and export read it", remote.ErrBadURL, t)
	}
	d, fsys, err := openSSHVMDK(t, ro, opts)
	if err != nil {
		return nil, nil, err
	}
	return d, (&sshDisk{Disk: d, fsys: fsys}).Close, nil
}

// sshDisk closes the SSH connection with the disk.
type sshDisk struct {
	*vmdk.Disk
	fsys *remote.FS
}

func (d *sshDisk) Close() error {
	err := d.Disk.Close()
	if cerr := d.fsys.Close(); err == nil {
		err = cerr
	}
	return err
}

// Transferred is the number of bytes read from the host so far.
func (d *sshDisk) Transferred() int64 { return d.fsys.Transferred() }

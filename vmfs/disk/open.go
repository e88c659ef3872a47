package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// Options tune Open and Locate.
type Options struct {
	// Remote configures ssh://, nbd:// and nbds:// SOURCEs; nil reads it
	// from the environment (remote.OptionsFromEnv), which the command line
	// fills from its flags.
	Remote *remote.Options
}

func (o Options) remote() (remote.Options, error) {
	if o.Remote != nil {
		return *o.Remote, nil
	}
	return remote.OptionsFromEnv()
}

// Open opens a SOURCE read-only as a raw Disk: a local file or block
// device (a block device's size comes from seeking to its end),
// ssh://user@host[:port]/path (the file or device at path on that host,
// over SFTP), or nbd://host[:port]/export and nbds:// (package remote).
// A VMDK is not interpreted here: it reads as the bytes of its file.
// Errors name the SOURCE: "source SPEC: ..." for a local one, the target
// URL, as package remote writes it, for a remote one.
func Open(spec string, opts Options) (Disk, error) {
	if t, ro, err := target(spec, opts); err != nil {
		return nil, err
	} else if t.Scheme == "nbd" {
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
	loc, err := Locate(spec, opts)
	if err != nil {
		return nil, err
	}
	d, err := loc.Open()
	if err != nil {
		loc.Close()
		return nil, err
	}
	return loc.Own(d), nil
}

// target parses a remote SOURCE and its options; for a local one it
// returns the zero Target.
func target(spec string, opts Options) (remote.Target, remote.Options, error) {
	if !remote.IsRemote(spec) {
		return remote.Target{}, remote.Options{}, nil
	}
	t, err := remote.ParseTarget(spec)
	if err != nil {
		return t, remote.Options{}, err
	}
	ro, err := opts.remote()
	return t, ro, err
}

// Location is where a SOURCE path lives: the file system holding it (the
// local root, or a host's over SFTP) and its name there. Layers that read
// files rather than disks (package vmdk for a descriptor and its extents,
// netcfg for a bootbank folder) open it in FS.
type Location struct {
	FS   fs.FS  // files implement io.ReaderAt
	Name string // the SOURCE's path in FS, slash-separated, unrooted
	// Spec is the SOURCE as given, for messages.
	Spec string
	// Disk is set instead of FS for a SOURCE that is a whole disk and no
	// path (an NBD export; see LocateOrOpen).
	Disk Disk

	conn   *remote.FS    // nil for a local path
	target remote.Target // of a remote path
}

// String names the location in messages: the SOURCE as given for a
// local one, the target URL as package remote writes it for a remote one.
func (l *Location) String() string {
	if l.conn != nil {
		return l.target.String()
	}
	return l.Spec
}

// Locate finds the file system a SOURCE path lives in, connecting to the
// host of an ssh:// SOURCE. An nbd:// SOURCE is a disk, not a path: the
// error is then ErrNotPath. Close ends the connection.
func Locate(spec string, opts Options) (*Location, error) {
	t, ro, err := target(spec, opts)
	if err != nil {
		return nil, err
	}
	if !remote.IsRemote(spec) {
		abs, err := filepath.Abs(spec)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", spec, err)
		}
		return &Location{FS: os.DirFS("/"), Name: unrooted(filepath.ToSlash(abs)), Spec: spec}, nil
	}
	if t.Scheme != "ssh" {
		return nil, fmt.Errorf("%s: %w", t, ErrNotPath)
	}
	conn, err := remote.DialSSH(t, ro)
	if err != nil {
		return nil, err
	}
	return &Location{FS: conn, Name: unrooted(path.Clean(t.Path)), Spec: spec, conn: conn, target: t}, nil
}

// LocateOrOpen locates a SOURCE path (see Locate) or, for an NBD export,
// which is a disk and no path, opens it (see Open) as a Location whose
// Disk is set and FS nil. It is how the layers that read files or whole
// disks (netcfg: a bootbank folder, or a boot disk) take any SOURCE.
func LocateOrOpen(spec string, opts Options) (*Location, error) {
	loc, err := Locate(spec, opts)
	if errors.Is(err, ErrNotPath) {
		d, err := Open(spec, opts)
		if err != nil {
			return nil, err
		}
		return &Location{Spec: spec, Disk: d}, nil
	}
	return loc, err
}

func unrooted(p string) string {
	if p = strings.TrimPrefix(p, "/"); p == "" {
		return "."
	}
	return p
}

// Remote says whether the location is on another host.
func (l *Location) Remote() bool { return l.conn != nil }

// Transferred is the number of bytes read from the host so far (0 for a
// local path).
func (l *Location) Transferred() int64 {
	if l.conn == nil {
		return 0
	}
	return l.conn.Transferred()
}

// Close ends the connection to the host, if any, or closes the Disk.
func (l *Location) Close() error {
	switch {
	case l.Disk != nil:
		return l.Disk.Close()
	case l.conn != nil:
		return l.conn.Close()
	}
	return nil
}

// Open opens the file at the location as a raw Disk. Errors name the
// SOURCE: "source SPEC: SPEC: cause" for a local one, "URL: cause" for a
// remote one.
func (l *Location) Open() (Disk, error) {
	d, err := OpenIn(l.FS, l.Name)
	if err == nil {
		return d, nil
	}
	if pe, ok := err.(*fs.PathError); ok {
		err = &fs.PathError{Op: pe.Op, Path: l.String(), Err: pe.Err}
		if pe.Op == "open" {
			err = fmt.Errorf("%s: %w", l, pe.Err)
		}
	}
	if l.conn != nil {
		return nil, err
	}
	return nil, fmt.Errorf("source %s: %w", l.Spec, err)
}

// Own returns d, a disk read from the location, such that closing it
// closes the location too (ends the connection to the host), and that it
// reports the bytes the connection transferred.
func (l *Location) Own(d Disk) Disk {
	if l.conn == nil {
		return d
	}
	return &hostDisk{Disk: d, loc: l}
}

// hostDisk is a disk on a host: closing it ends the connection.
type hostDisk struct {
	Disk
	loc *Location
}

func (d *hostDisk) Close() error {
	err := d.Disk.Close()
	if cerr := d.loc.Close(); err == nil {
		err = cerr
	}
	return err
}

// Transferred is the number of bytes read from the host so far.
func (d *hostDisk) Transferred() int64 { return d.loc.Transferred() }

package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"

	"github.com/vmfsrecover/vmfsrecover/recover/guest"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// GuestOptions say how the inside of virtual disks is read (package
// guest).
type GuestOptions struct {
	// Deleted lists deleted files inside the guests' file systems.
	Deleted bool
}

// EnterDisks gives the volume a NAME.vmdk@ directory beside every VMDK
// disk on it, whose inside is the disk's partitions and file systems
// (guest.Datastore), each disk opened on first entry.
func (v *Volume) EnterDisks(ctx context.Context, o GuestOptions, tolerant bool) {
	ds := guest.NewDatastore(ctx, v.FS, guest.DatastoreOptions{
		Options:    guest.Options{Deleted: o.Deleted},
		VMDK:       &vmdk.Options{Tolerant: tolerant},
		SourceArgs: v.sourceArgs,
	})
	v.FS = ds
	v.warnings = ds.Warnings
	v.close = ds.Close
}

// Warnings are what reading the guest disks met so far: a partition table
// read from its backup or replaced by a search, a file system opened from
// a backup of its head.
func (v *Volume) Warnings() []string {
	if v.warnings == nil {
		return nil
	}
	return v.warnings()
}

// Close closes what the volume opened of its own (the guest disks); the
// sources stay open until Scan.Close.
func (v *Volume) Close() error {
	if v.close == nil {
		return nil
	}
	return v.close()
}

// OpenGuests opens the sources as virtual disks of a VM whose inside is
// read (guest.Tree): the path of a disk SOURCE (a VMDK, a raw disk image)
// on which no VMFS volume is found. One source's tree is its partitions;
// several sources (the disks of one VM) get one directory each, named
// after the source with "@", and logical volumes spanning them. Sources
// with no file system it can read are ErrNoGuestFS. A disk whose table
// is lost is searched for file systems by their backups only with
// Options.ProbeAll (--probe-all), since that reads all of it.
func (s *Scan) OpenGuests(ctx context.Context, o GuestOptions) (*Volume, error) {
	var disks []guest.Disk
	var closers []func() error
	if s.quick != nil {
		for _, src := range s.quick.Sources {
			disks = append(disks, s.guestDisk(src.Spec, src.Disk, src.Size))
		}
	} else {
		// The deep scan keeps its disks to itself: open the sources again.
		opened, err := source.OpenAll(s.Sources, source.Options{Tolerant: true, Maps: s.opts.Maps})
		if err != nil {
			return nil, err
		}
		for i, d := range opened {
			disks = append(disks, s.guestDisk(s.Sources[i], d, d.Size()))
			closers = append(closers, d.Close)
		}
	}
	closeAll := func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	t, err := guest.Open(ctx, disks, guest.Options{Deleted: o.Deleted, Search: s.opts.ProbeAll})
	if err == nil && (t.Readable() == 0 || t.HoldsVMFS()) {
		err = ErrNoGuestFS
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	return &Volume{FS: t, anomalies: func() []string { return nil }, warnings: t.Warnings, close: closeAll}, nil
}

// guestDisk is a SOURCE as a disk of a guest.Tree: named after it, with
// the time of a local image file, and the dump command that copies a range of it
// out where dump reads the SOURCE (a local or ssh:// file; not an nbd://
// export, which dump refuses, nor a RAID array, which it cannot assemble).
func (s *Scan) guestDisk(spec string, r io.ReaderAt, size int64) guest.Disk {
	d := guest.Disk{Name: sourceName(spec), R: r, Size: size}
	if !remote.IsRemote(spec) && s.RAID == "" {
		// A device node's time is the node's, not the data's.
		if fi, err := os.Stat(spec); err == nil && fi.Mode().IsRegular() {
			d.ModTime = fi.ModTime()
		}
	}
	if s.RAID == "" && !strings.HasPrefix(spec, "nbd://") {
		tolerant := ""
		if s.opts.Tolerant || s.quick == nil { // the deep scan's disks open tolerantly
			tolerant = "--tolerant "
		}
		d.CopyOut = func(start, length int64) string {
			return fmt.Sprintf("vmfsrecover dump %s--offset %d --length %d %s -o part.img", tolerant, start, length, textout.ShellQuote(spec))
		}
	}
	return d
}

// ErrNoGuestFS: the sources hold no file system a guest reader reads, or
// hold a VMFS partition (an ESXi host's disk whose volume is damaged, which
// the deep scan reads): they are not a VM's disks.
var ErrNoGuestFS = errors.New("no guest file system found")

// sourceName is the base name of a SOURCE, local or a URL.
func sourceName(spec string) string {
	return path.Base(strings.TrimRight(spec, "/"))
}

// GuestDiskDir reports a disk's directory (NAME.vmdk@) of a volume that
// EnterDisks gave them: recursive listings and exports leave them out
// unless asked, or what is inside the VMs would be read twice.
func GuestDiskDir(info fs.FileInfo) bool { return info != nil && guest.IsDiskDir(info) }

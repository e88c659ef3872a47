package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/mount"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

type mountOptions struct {
	*globalOptions
	vol        volumeFlags
	allowOther bool
	pageCache  bool
	guests     bool
}

// busyPatience is how long an interrupted mount waits for the programs
// using it to let go before it detaches the mount lazily.
const busyPatience = 10 * time.Second

func newMountCmd(g *globalOptions) *cobra.Command {
	o := &mountOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "mount SOURCE MOUNTPOINT",
		Short: "Show a VMFS volume (or what --deep recovered) as a read-only folder",
		Long: `mount serves the tree ls shows (the volume found on SOURCE, or with --deep
the recovered tree with deleted and orphaned files) at MOUNTPOINT through
FUSE, strictly read-only, so that any program reads the files in place:
sizes, modes, times, owners, link counts, symbolic links and allocated
blocks (du) as on the volume. Beside every VMDK disk NAME.vmdk (a
descriptor or a single-file sparse disk, not its extents) lies NAME.raw,
the disk flattened: its extents and snapshot chain read as the guest sees
the disk, sized as the disk (--tolerant: missing extents and parents read
as zeros). Holes are holes to lseek(SEEK_DATA/SEEK_HOLE), as cp
--sparse=always asks. Every change (write, create, rename, chmod, ...)
fails with EROFS.
Files of 64 MiB and more are read with direct I/O: each read goes from the
image into the reading program's buffer without the kernel's page cache,
several times faster for programs that read 64 KiB or more at a time (cat,
cp, rsync, dd bs=1M), slower for those that read small blocks: give
--page-cache for those. Smaller files go through the page cache, with
read-ahead.
Bytes known to be lost (a missing extent, an unreadable sector) read as
zeros, and each file that has some is named once on stderr.

mount stays in the foreground; Ctrl-C or SIGTERM (or umount MOUNTPOINT)
unmounts. While a program still has a file open or its working directory
in the mount, unmounting waits for it (` + "`fuser -vm MOUNTPOINT`" + ` names it)
and after 10 seconds detaches the mount lazily. A mount left by a crashed
vmfsrecover ("transport endpoint is not connected") is cleared first.
--allow-other lets other users read it (as root, or with user_allow_other
in /etc/fuse.conf).

The last argument is the MOUNTPOINT, an existing folder; several SOURCEs
(the disks of a spanned volume, or several disks to look for the volume
on) are written before --:
  vmfsrecover mount lun1.img lun2.img -- /mnt/datastore

` + exitCodesHelp,
		Example: `  vmfsrecover mount datastore.img /mnt/datastore
  vmfsrecover mount --deep damaged.img /mnt/recovered
  vmfsrecover mount disk1.img disk2.img -- /mnt/datastore`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMount(cmd.Context(), o, argsWithDash(cmd, args))
		},
	}
	cmd.Flags().BoolVar(&o.allowOther, "allow-other", false, "let users other than the one mounting read the mount")
	cmd.Flags().BoolVar(&o.pageCache, "page-cache", false, "read large files too through the kernel's page cache, with read-ahead (for programs that read them in small blocks)")
	cmd.Flags().BoolVar(&o.guests, "guests", false, "show a NAME.vmdk@ folder beside every VMDK disk, holding the files inside it (left out by default: a copy of the mount would read every VM twice)")
	addVolumeFlags(cmd, &o.vol)
	return cmd
}

// directFrom is the size from which files are read with direct I/O.
func directFrom(pageCache bool) int64 {
	if pageCache {
		return -1
	}
	return mount.DirectFrom
}

// runMount serves the volume until ctx is cancelled or someone unmounts it.
func runMount(ctx context.Context, o *mountOptions, args []string) (err error) {
	a, err := splitSources("mount", args, 1, 1)
	if err != nil {
		return err
	}
	dir := a.typed[0]
	o.vol.keepDisksClosed = !o.guests
	stale, err := mount.ClearStale(dir)
	if err != nil {
		return err
	}
	if stale {
		o.warn(fmt.Sprintf("%s: cleared a stale mount (transport endpoint is not connected) left by a server that ended without unmounting", dir))
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return withExitCode(exitUsage, fmt.Errorf("MOUNTPOINT %s: not an existing folder", dir))
	}
	fsys, closer, err := openFS(ctx, o.globalOptions, &o.vol, a.sources)
	if err != nil {
		return a.explain(err)
	}
	defer closeWith(&err, closer)
	fsys = mount.WithRawImages(fsys, &vmdk.Options{Tolerant: o.vol.tolerant})
	srv, err := mount.Mount(dir, fsys, mount.Options{
		AllowOther: o.allowOther,
		DirectFrom: directFrom(o.pageCache),
		Source:     strings.Join(a.sources, ","),
		Warn: func(name string, ws []string) {
			o.warn(fmt.Sprintf("/%s: lost bytes read as zeros: %s", strings.TrimPrefix(name, "."), strings.Join(ws, "; ")))
		},
	})
	if err != nil {
		return err
	}
	o.note(fmt.Sprintf("mounted %s read-only at %s; Ctrl-C unmounts", a.sourceArgs(), dir))
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	return unmountPatiently(o.globalOptions, srv, done)
}

// unmountPatiently unmounts srv, waiting busyPatience for the programs
// using the mount, then detaching it lazily.
func unmountPatiently(g *globalOptions, srv *mount.Server, done <-chan struct{}) error {
	deadline := time.Now().Add(busyPatience)
	for said := false; ; said = true {
		err := srv.Unmount()
		if !errors.Is(err, mount.ErrBusy) {
			return err
		}
		if time.Now().After(deadline) {
			break
		}
		if !said {
			g.warn(fmt.Sprintf("%s is busy: a program has a file open or its working directory in it (fuser -vm %s names it); close it: retrying until %s",
				srv.Dir, textout.ShellQuote(srv.Dir), deadline.Format("15:04:05")))
		}
		select {
		case <-done:
			return nil
		case <-time.After(time.Second):
		}
	}
	if err := srv.Detach(); err != nil {
		return fmt.Errorf("%s stays busy and could not be detached: %w", srv.Dir, err)
	}
	<-done
	return fmt.Errorf("%s was busy for %s: detached lazily; the programs using it now get errors", srv.Dir, busyPatience)
}

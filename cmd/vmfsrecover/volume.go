package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// volumeFlags are the flags of every command that reads a volume.
type volumeFlags struct {
	volume   string
	tolerant bool
	probeAll bool
	deep     bool     // read the deep scan's findings instead of the volume as it is
	rescan   bool     // ignore a saved scan file
	scanDir  string   // where scan files are kept
	maps     []string // --map: MAPFILE, or SOURCE=MAPFILE with several SOURCEs
	raid     string   // --raid: the SOURCEs are the members of an array
	raidSave string   // --raid-save: where to write the spec assembled
	// guestDeleted lists deleted files inside the guest file systems
	// (ls --deleted).
	guestDeleted bool
	// deepUnlessGuests: --deep, unless the sources are virtual disks
	// (ls --deleted), whose readers list deleted files themselves.
	deepUnlessGuests bool
	// keepDisksClosed leaves out the NAME.vmdk@ folders (mount without
	// --guests).
	keepDisksClosed bool
}

func addVolumeFlags(cmd *cobra.Command, v *volumeFlags) {
	f := cmd.Flags()
	f.StringVar(&v.volume, "volume", "", "which volume when the sources hold several: label, UUID or number from scan")
	f.BoolVar(&v.tolerant, "tolerant", false, "read damaged volumes: missing extents and unreadable metadata read as zeros and are reported")
	f.BoolVar(&v.probeAll, "probe-all", false, "also probe every 1 MiB boundary for VMFS (lost partition tables); on a virtual disk without a partition table, search all of it for guest file systems by their backups")
	f.BoolVar(&v.deep, "deep", false, "use the deep scan (run now, or reused from its scan file): damaged, reformatted and deleted files")
	f.BoolVar(&v.rescan, "rescan", false, "with --deep: scan again instead of reusing the saved scan file")
	f.StringVar(&v.scanDir, "scan-dir", "", "with --deep: folder whose .vmfsrecover/ holds scan files (default: the working directory, or the user's cache folder when it cannot be written)")
	f.StringVar(&v.raid, "raid", "", `read the SOURCEs as the members of a RAID array: "auto" detects level, member order, chunk size, layout and data offset (md superblocks, else a search for a partition table and VMFS) and prints the spec it assumed; a spec such as raid5:left-symmetric:64k:offset=0:a.img,b.img,missing,d.img gives them (parts left out are detected); @FILE reads the spec from a file`)
	f.StringVar(&v.raidSave, "raid-save", "", "with --raid: write the spec the array was assembled with to this file (with what it rests on as comments), to edit and give back as --raid @FILE")
	f.StringArrayVar(&v.maps, "map", nil, "GNU ddrescue mapfile of a SOURCE image (from image or ddrescue): bytes it does not mark rescued are reported lost, per file; with several SOURCEs, SOURCE=MAPFILE (repeat --map)")
}

// mapsBySource assigns each --map value to its SOURCE: SOURCE=MAPFILE, or a
// plain MAPFILE when there is one SOURCE.
func mapsBySource(sources, maps []string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range maps {
		src, path, ok := strings.Cut(m, "=")
		if !ok || !slices.Contains(sources, src) {
			if len(sources) != 1 {
				return nil, withExitCode(exitUsage, fmt.Errorf("--map %s: with several SOURCEs, name the one it belongs to: --map SOURCE=MAPFILE", m))
			}
			src, path = sources[0], m
		}
		if prev, dup := out[src]; dup {
			return nil, withExitCode(exitUsage, fmt.Errorf("--map: two mapfiles for %s: %s and %s", src, prev, path))
		}
		out[src] = path
	}
	return out, nil
}

// scanSources opens the sources and finds the volumes on them, as the
// flags say (quick, or --deep), and prints the warnings met.
func scanSources(ctx context.Context, g *globalOptions, v *volumeFlags, sources []string) (*session.Scan, error) {
	maps, err := mapsBySource(sources, v.maps)
	if err != nil {
		return nil, err
	}
	sc, err := session.ScanSources(ctx, sources, session.Options{
		Tolerant: v.tolerant, ProbeAll: v.probeAll, Deep: v.deep, Rescan: v.rescan, ScanDir: v.scanDir, Maps: maps, RAID: v.raid,
		DeepProgress: g.deepProgress(),
		Notify:       func(e deepscan.Event) { g.note(scanFileNote(e)) },
	})
	if err != nil {
		return nil, err
	}
	for _, w := range sc.Warnings() {
		g.warn(w)
	}
	if v.raidSave != "" {
		if err := saveRAIDSpec(v.raidSave, sc, sources); err != nil {
			sc.Close()
			return nil, err
		}
	}
	return sc, nil
}

// saveRAIDSpec writes the spec the sources were assembled with as a spec
// file (raid.ParseFile reads it back), never over a source.
func saveRAIDSpec(name string, sc *session.Scan, sources []string) error {
	if sc.RAID == "" {
		return withExitCode(exitUsage, fmt.Errorf("--raid-save writes the spec of a RAID array: give --raid"))
	}
	spec, err := raid.Parse(sc.RAID)
	if err != nil {
		return err
	}
	comments := append([]string{"RAID spec written by vmfsrecover " + time.Now().UTC().Format(time.RFC3339) + "; edit it and give it back as --raid @FILE"}, sc.Warnings()...)
	f, err := createOutput(name, true, writeguard.ForSources(sources))
	if err != nil {
		return err
	}
	if _, err := f.WriteString(spec.FileText(comments...)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openFS opens what a listing or export reads: the volume --volume names
// (the only one when there is one), as it is or, with --deep, as the deep
// scan rebuilt it, with a NAME.vmdk@ directory beside each VMDK disk on
// it; or, when the sources hold no VMFS volume, the inside of the sources
// as virtual disks (partitions, file systems). The returned function
// prints the warnings the guest disks met and closes the sources.
func openFS(ctx context.Context, g *globalOptions, v *volumeFlags, sources []string) (fs.FS, func() error, error) {
	if v.deep && !v.deepUnlessGuests {
		// --deep on virtual disks: their readers list deleted files.
		v.deep, v.deepUnlessGuests, v.guestDeleted = false, true, true
	}
	if v.deepUnlessGuests {
		// ls --deleted: virtual disks list their deleted files without a
		// deep scan, which only VMFS needs.
		quick, silent := *v, *g
		quick.deep, quick.deepUnlessGuests, silent.quiet = false, false, true
		if sc, err := scanSources(ctx, &silent, &quick, sources); err == nil {
			if len(sc.Volumes) == 0 {
				if vol, err := sc.OpenGuests(ctx, session.GuestOptions{Deleted: v.guestDeleted}); err == nil {
					for _, w := range sc.Warnings() {
						g.warn(w)
					}
					return vol.FS, closeVolume(g, vol, sc), nil
				}
			}
			sc.Close()
		}
		v.deep = true
	}
	sc, err := scanSources(ctx, g, v, sources)
	if err != nil {
		return nil, nil, err
	}
	guests := session.GuestOptions{Deleted: v.guestDeleted}
	var vol *session.Volume
	if len(sc.Volumes) == 0 && v.volume == "" {
		// No VMFS: the sources may be a VM's disks.
		vol, err = sc.OpenGuests(ctx, guests)
		if err != nil && !errors.Is(err, session.ErrNoGuestFS) {
			sc.Close()
			return nil, nil, err
		}
	}
	if vol == nil {
		if sc.Deep() && len(sc.Volumes) == 0 {
			sc.Close()
			return nil, nil, nothingFound(sources)
		}
		if vol, err = openVolume(ctx, g, v, sc, sources); err != nil {
			return nil, nil, err
		}
		if !v.keepDisksClosed {
			vol.EnterDisks(ctx, guests, v.tolerant)
		}
	}
	return vol.FS, closeVolume(g, vol, sc), nil
}

// closeVolume returns the function that prints the warnings the guest
// disks of vol met and closes vol and the sources.
func closeVolume(g *globalOptions, vol *session.Volume, sc *session.Scan) func() error {
	return func() error {
		for _, w := range vol.Warnings() {
			g.warn(w)
		}
		return errors.Join(vol.Close(), sc.Close())
	}
}

// openVolume opens the volume of a scan --volume names; on error the scan
// is closed.
func openVolume(ctx context.Context, g *globalOptions, v *volumeFlags, sc *session.Scan, sources []string) (*session.Volume, error) {
	n, err := sc.Select(v.volume)
	if err != nil && sc.Deep() {
		err = fmt.Errorf("%w (on %v; choose with --volume)", err, sources)
	}
	var vol *session.Volume
	if err == nil {
		vol, err = sc.Open(n, nil)
	}
	if err != nil {
		sc.Close()
		return nil, withRecoveryHint(v, err)
	}
	for _, a := range vol.Anomalies() {
		g.warn(a)
	}
	if sc.Deep() {
		if f := &sc.Rebuilt()[n-1]; f.Empty() {
			sc.Close()
			return nil, withExitCode(exitPartial, fmt.Errorf("nothing recovered: %s", emptyVolume(f)))
		}
	}
	return vol, nil
}

// warn prints a warning on stderr unless --quiet.
func (g *globalOptions) warn(msg string) {
	if !g.quiet {
		fmt.Fprintln(os.Stderr, "warning:", msg)
	}
}

// volumeArgs are the arguments of a command that reads a volume:
//
//	CMD SOURCE [PATH...]         the first argument is the SOURCE
//	CMD SOURCE... -- [PATH...]   several SOURCEs (a spanned volume, several disks)
//
// The local file system is never consulted to tell a SOURCE from a path
// inside the volume: "/" or "/vm1" may exist here too.
type volumeArgs struct {
	cmd     string   // the command's name, for the hints in errors
	sources []string // as the user typed them
	paths   []string // in the fs.FS form (see volumePath)
	typed   []string // paths as the user typed them
	dash    bool     // the sources were ended by --
	needs   bool     // the command needs a PATH
}

// sourcesHelp explains the arguments of every command that reads a volume;
// %s is the command's name and its arguments after the SOURCEs.
const sourcesHelp = `The first argument is the SOURCE, the others are paths inside the volume.
Several SOURCEs (the disks of a spanned volume, or several disks to look
for the volume on) are written before --:
  vmfsrecover %s

Files inside the VMs: beside every VMDK disk of the volume is a folder
NAME.vmdk@ holding the disk's partitions (p1, p2, ... as Linux numbers
them) and the files of their file systems (FAT, ext2/3/4, XFS):
  /vm1/vm1.vmdk@/p2/etc/hostname
Recursive listings and exports of a folder enter them only with --guests.
A SOURCE that holds no VMFS volume but is a virtual disk (a VMDK, a raw
disk image) is read the same way from its root: /p1/..., or several
such SOURCEs (one VM's disks) as /NAME@/p1/...`

// argsWithDash returns a command's positional arguments with the "--" that
// cobra removed put back, so that splitSources sees the command line as typed.
func argsWithDash(cmd *cobra.Command, args []string) []string {
	n := cmd.ArgsLenAtDash()
	if n < 0 {
		return args
	}
	return append(append(append([]string(nil), args[:n]...), "--"), args[n:]...)
}

// splitSources reads args (with "--" where the user wrote it, see
// argsWithDash) as volumeArgs. At least one SOURCE is required, each must
// exist (or name a remote scheme), and minPaths to maxPaths paths are
// allowed (maxPaths -1: any number).
func splitSources(cmd string, args []string, minPaths, maxPaths int) (volumeArgs, error) {
	a := volumeArgs{cmd: cmd, needs: minPaths > 0}
	if dash := slices.Index(args, "--"); dash >= 0 {
		a.sources, a.typed, a.dash = args[:dash], args[dash+1:], true
	} else if len(args) > 0 {
		a.sources, a.typed = args[:1], args[1:]
	}
	if len(a.sources) == 0 {
		return a, withExitCode(exitUsage, errors.New("no SOURCE given"))
	}
	if maxPaths >= 0 && len(a.typed) > maxPaths {
		err := fmt.Errorf("%s takes at most %d PATH inside the volume, got %d: %s", cmd, maxPaths, len(a.typed), strings.Join(a.typed, " "))
		return a, withExitCode(exitUsage, a.hint(err))
	}
	if len(a.typed) < minPaths {
		return a, withExitCode(exitUsage, fmt.Errorf("%s needs a PATH inside the volume after the SOURCE", cmd))
	}
	if err := checkSources(a.sources, false); err != nil {
		return a, err
	}
	for _, p := range a.typed {
		a.paths = append(a.paths, volumePath(p))
	}
	return a, nil
}

// sourceArgs writes the SOURCEs for a shell command line that is followed
// by a path inside the volume.
func (a volumeArgs) sourceArgs() string {
	if len(a.sources) == 1 {
		return textout.ShellQuote(a.sources[0])
	}
	return textout.ShellQuoteAll(a.sources) + " --"
}

// checkSources fails with exitUsage, naming the SOURCE as typed, when a
// local SOURCE does not exist, is given twice, or is a folder where only
// disks are read (folders false): the same status in every command.
func checkSources(sources []string, folders bool) error {
	seen := map[string]os.FileInfo{}
	for _, s := range sources {
		if remote.IsRemote(s) {
			continue
		}
		fi, err := os.Stat(s)
		if errors.Is(err, fs.ErrNotExist) {
			return withExitCode(exitUsage, fmt.Errorf("SOURCE %s: no such file or device", s))
		}
		if err != nil {
			continue // opening it says what is wrong
		}
		if fi.IsDir() && !folders {
			return withExitCode(exitUsage, fmt.Errorf("SOURCE %s: is a folder, not a disk, image or VMDK", s))
		}
		for name, other := range seen {
			if os.SameFile(fi, other) {
				return withExitCode(exitUsage, fmt.Errorf("SOURCE %s and %s are the same file: give each disk once", name, s))
			}
		}
		seen[s] = fi
	}
	return nil
}

// hint adds to err how to write several SOURCEs when the arguments taken
// as paths inside the volume name local files or remote disks: the user
// probably meant them as SOURCEs.
func (a volumeArgs) hint(err error) error {
	if err == nil || a.dash {
		return err
	}
	var disks, rest []string
	for _, p := range a.typed {
		if looksLikeDisk(p) && len(rest) == 0 {
			disks = append(disks, p)
		} else {
			rest = append(rest, p)
		}
	}
	if len(disks) == 0 {
		return err
	}
	example := append(append(append([]string{"vmfsrecover", a.cmd}, a.sources...), disks...), "--")
	example = append(example, rest...)
	if len(rest) == 0 && a.needs {
		example = append(example, "PATH")
	}
	return fmt.Errorf("%w\n  %s was read as a path inside the volume: the first argument is the SOURCE; to give several SOURCEs, write them before --: %s",
		err, strings.Join(disks, " "), textout.ShellQuoteAll(example))
}

// explain adds the hint of a.hint to an error that several SOURCEs would
// explain: a path not found in the volume, a disk of a spanned volume
// missing, no volume on the first SOURCE.
// A path not found is named as the user typed it.
func (a volumeArgs) explain(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, fs.ErrNotExist) {
		if i := slices.Index(a.paths, pe.Path); i >= 0 {
			err = fmt.Errorf("%s: %w in the volume", a.typed[i], fs.ErrNotExist)
		}
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, vmfs.ErrExtentMissing) || errors.Is(err, discover.ErrNoVolume) {
		return a.hint(err)
	}
	return err
}

// looksLikeDisk tells whether arg names a local file or device (not a
// folder), or a remote disk: only to explain an error, never to decide
// what an argument is.
func looksLikeDisk(arg string) bool {
	if remote.IsRemote(arg) {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && !fi.IsDir()
}

// volumePath turns "/dir/file", "dir/file/" or "" into the fs.FS form.
func volumePath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// closeWith runs closer after a command and keeps the first error.
func closeWith(err *error, closer func() error) {
	if cerr := closer(); cerr != nil && *err == nil {
		*err = cerr
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/guest"
	"github.com/vmfsrecover/vmfsrecover/recover/session"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

func newScanCmd(g *globalOptions) *cobra.Command {
	var vol volumeFlags
	var parity bool
	cmd := &cobra.Command{
		Use:   "scan SOURCE...",
		Short: "Find VMFS volumes on disks, partition images and VMDKs",
		Long: `scan opens each SOURCE read-only, finds VMFS3/5/6 extents on it (through MBR
and GPT partitions, on a bare partition image, at the usual starts when the
partition table is lost, and with --probe-all at every 1 MiB boundary), groups
the extents of several SOURCEs into spanned volumes, and prints each volume:
version, label, UUID, size, block size, extents and file count.

With --deep it reads each SOURCE once from start to end, up to 4 SOURCEs at
once (one progress display with throughput and ETA on stderr) and records every VMFS structure it meets in a
scan file (.vmfsrecover/scan-<id>.json in --scan-dir, else the working
directory, else when that cannot be written $XDG_CACHE_HOME/vmfsrecover),
then rebuilds the volumes from them: files the intact tree
reaches, deleted files, orphans of destroyed directories (under
/lost+found), and VMDK descriptors and .vmx files carved by their text
(under /carved). A volume spanned over several SOURCEs is rebuilt across
them; the bytes of a disk not given read as zeros, and each file says which.
For a remote SOURCE the progress adds the bytes received and the link's
rate. An interrupted deep scan resumes where it stopped; later ls --deep,
cat --deep and export --deep reuse the scan file, and say so on stderr
(--rescan scans again). A scan file is found by the disk's identity (size,
and samples of its start, end and 64 places between) and is used only while
the structures it records still read the same; a changed disk is scanned
again.

With --raid and --check-parity it also recomputes the parity of every row of a
RAID 5 or 6 array (every member must be there) and prints the ranges of array
bytes whose P or Q disagrees with the data, and on which member that parity
lies: a member that returned wrong bytes (bit rot, a stale member) or a wrong
geometry. Disagreeing rows make the exit code 3.

` + exitCodesHelp,
		Example: `  vmfsrecover scan /dev/sdb
  vmfsrecover scan disk1.img disk2.img          # a volume spanned over two disks
  vmfsrecover scan --probe-all --json wiped.img
  vmfsrecover scan --deep /dev/sdb              # damaged, reformatted, deleted
  vmfsrecover scan --raid auto --check-parity d1.img d2.img d3.img d4.img`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), g, &vol, parity, args, cmd.OutOrStdout())
		},
	}
	addVolumeFlags(cmd, &vol)
	cmd.Flags().BoolVar(&parity, "check-parity", false, "with --raid: recompute the parity of every row of a RAID 5 or 6 array and print where it disagrees")
	return cmd
}

// scanReport is one found volume as scan prints it.
type scanReport struct {
	discover.Volume
	Number  int      `json:"number"`
	Files   int      `json:"files"`
	Dirs    int      `json:"dirs"`
	Sources []string `json:"sources"`
}

func runScan(ctx context.Context, g *globalOptions, vf *volumeFlags, parity bool, sources []string, out io.Writer) error {
	if parity && (vf.raid == "" || vf.deep) {
		return withExitCode(exitUsage, fmt.Errorf("--check-parity checks a RAID array: give --raid, without --deep"))
	}
	sc, err := scanSources(ctx, g, vf, sources)
	if err != nil {
		return err
	}
	defer sc.Close()
	if sc.Deep() {
		return writeDeepScan(g, sc.Rebuilt(), sources, out)
	}
	s := sc.Discovered()
	if !g.json {
		for _, src := range s.Sources {
			fmt.Fprintf(out, "source %s: %d bytes (%s)\n", src.Spec, src.Size, textout.Bytes(src.Size))
		}
	}
	damaged := 0
	for i := range s.Volumes {
		v := &s.Volumes[i]
		r := scanReport{Volume: *v, Number: i + 1}
		for _, e := range v.Set.Extents {
			r.Sources = append(r.Sources, s.Sources[e.Disk].Spec)
		}
		if v.OpenError == "" {
			if vol, err := s.OpenVolume(v); err != nil {
				r.OpenError = err.Error()
			} else {
				r.Files, r.Dirs, err = countFiles(ctx, vol)
				if err != nil {
					r.OpenError = "walking the tree: " + err.Error()
				}
			}
		}
		if r.OpenError != "" || v.Set.Missing > 0 || v.Truncated > 0 {
			damaged++
		}
		if g.json {
			if err := json.NewEncoder(out).Encode(r); err != nil {
				return err
			}
			continue
		}
		printScan(out, r)
	}
	if parity {
		a := sc.Array()
		if a == nil || a.Geometry().Level != raid.RAID5 && a.Geometry().Level != raid.RAID6 {
			return withExitCode(exitUsage, fmt.Errorf("--check-parity: the sources are not a RAID 5 or 6 array"))
		}
		bad, err := checkParity(ctx, g, a, out)
		if err != nil {
			return err
		}
		if bad > 0 {
			return withExitCode(exitPartial, fmt.Errorf("parity disagrees with the data in %d row(s) of the array", bad))
		}
	}
	switch {
	case len(s.Volumes) == 0:
		err := fmt.Errorf("%w on %d source(s)", discover.ErrNoVolume, len(sources))
		if guests := guestSummary(ctx, sc); guests != "" {
			return fmt.Errorf("%w; they are a virtual machine's disk(s), holding %s: 'vmfsrecover ls -r %s' lists their files", err, guests, volumeArgs{sources: sources}.sourceArgs())
		}
		return withRecoveryHint(vf, err)
	case damaged > 0:
		return withExitCode(exitPartial, fmt.Errorf("%d of %d volumes are damaged or incomplete; --deep rebuilds damaged volumes", damaged, len(s.Volumes)))
	}
	return nil
}

// guestSummary names the partitions and logical volumes of the sources
// read as a VM's disks, with their file systems ("p1 (ext4), p2 (NTFS)"),
// or "" when they are not.
func guestSummary(ctx context.Context, sc *session.Scan) string {
	vol, err := sc.OpenGuests(ctx, session.GuestOptions{})
	if err != nil {
		return ""
	}
	defer vol.Close()
	describe := func(info fs.FileInfo) string {
		if gi, ok := info.Sys().(*guest.Info); ok && gi.FS != "" {
			return gi.FS
		}
		return "no file system recognised"
	}
	if root, err := fs.Stat(vol.FS, "."); err == nil && guest.IsVolumeRoot(root) {
		return describe(root) + " on the whole disk"
	}
	var parts []string
	err = fs.WalkDir(vol.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if guest.IsVolumeRoot(info) {
			parts = append(parts, fmt.Sprintf("/%s (%s)", p, describe(info)))
			return fs.SkipDir
		}
		return nil
	})
	if err != nil || len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ")
}

func printScan(out io.Writer, r scanReport) {
	fmt.Fprintf(out, "\nvolume %d: %q\n", r.Number, r.Label)
	if r.OpenError != "" {
		fmt.Fprintf(out, "  error:      %s\n", r.OpenError)
	} else {
		kind := fmt.Sprintf("VMFS%d (%d.%02d)", r.Version, r.Major, r.Minor)
		if r.VMFSL {
			kind += " VMFS-L (ESXi OSDATA)"
		}
		fmt.Fprintf(out, "  version:    %s\n  uuid:       %s\n  size:       %d bytes (%s)\n  block size: %s\n  contents:   %d files, %d directories\n",
			kind, r.UUID, r.Size, textout.Bytes(r.Size), textout.Bytes(r.BlockSize), r.Files, r.Dirs)
	}
	fmt.Fprintf(out, "  lvm uuid:   %s\n", r.Set.UUID)
	for i, e := range r.Set.Extents {
		device := "" // LVM3 headers record no device name
		if e.Header.DeviceName != "" {
			device = fmt.Sprintf(", device %q", e.Header.DeviceName)
		}
		fmt.Fprintf(out, "  extent %d:   %s at offset %d (%s), LVM %d.%d, PEs %d-%d%s\n",
			i+1, r.Sources[i], e.Offset, e.How, e.Header.Major, e.Header.Minor, e.Header.FirstPE, e.Header.LastPE, device)
	}
	if r.Truncated > 0 {
		fmt.Fprintf(out, "  truncated:  %d bytes (%s) missing: the image ends before the volume does\n", r.Truncated, textout.Bytes(r.Truncated))
	}
	if r.Set.Missing > 0 {
		fmt.Fprintf(out, "  MISSING:    %d extent(s): pass every device of the volume as a SOURCE\n", r.Set.Missing)
	}
}

// countFiles counts the non-directory and directory entries below the root.
func countFiles(ctx context.Context, fsys fs.FS) (files, dirs int, err error) {
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		switch {
		case p == ".":
		case d.IsDir():
			dirs++
		default:
			files++
		}
		return nil
	})
	return files, dirs, err
}

// writeDeepScan prints the volumes the deep scan of sources rebuilt.
func writeDeepScan(g *globalOptions, vols []deepscan.Found, sources []string, out io.Writer) error {
	enc := json.NewEncoder(out)
	var damaged []string
	for _, v := range vols {
		switch {
		case v.Empty():
			damaged = append(damaged, emptyVolume(&v))
		case v.Missing > 0:
			damaged = append(damaged, fmt.Sprintf("volume %d: the image is truncated, %d bytes (%s) of its disk are missing", v.Number, v.Missing, textout.Bytes(v.Missing)))
		}
		if g.json {
			if err := enc.Encode(v); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(out, "\nvolume %d: %q on %s at offset %d\n", v.Number, v.Label, v.Source, v.Origin)
		fmt.Fprintf(out, "  version:    VMFS%d, uuid %s, block size %s\n", v.Version, v.UUID, textout.Bytes(v.BlockSize))
		fmt.Fprintf(out, "  found:      %d intact, %d deleted, %d orphaned, %d carved entries\n",
			v.Counts["intact"], v.Counts["deleted"], v.Counts["orphan"], v.Counts["carved"])
		for _, e := range v.Evidence {
			fmt.Fprintf(out, "  evidence:   %s\n", e)
		}
		if v.Missing > 0 {
			fmt.Fprintf(out, "  missing:    %d bytes (%s): the image ends before the volume does\n", v.Missing, textout.Bytes(v.Missing))
		}
		for _, a := range v.Anomalies {
			fmt.Fprintf(out, "  anomaly:    %s\n", a)
		}
		if v.ScanFile == "" {
			fmt.Fprintf(out, "  scan file:  not saved\n")
		} else {
			fmt.Fprintf(out, "  scan file:  %s\n", v.ScanFile)
		}
	}
	switch {
	case len(vols) == 0:
		return nothingFound(sources)
	case len(damaged) > 0:
		return withExitCode(exitPartial, errors.New(strings.Join(damaged, "; ")))
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// exportFlags are the flags of export and verify that reach a destination.
type exportFlags struct {
	to          string
	overwrite   bool
	jobs        int
	retries     int
	timeout     time.Duration
	implicitTLS bool
	caFile      string
	insecureTLS bool
	noSync      bool
	flatten     bool
	unmapped    bool
	system      bool
	guests      bool
	readBack    bool
	vol         volumeFlags // how the volume is read
}

func addDestinationFlags(cmd *cobra.Command, f *exportFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&f.implicitTLS, "implicit-tls", false, "ftps:// with TLS from the first byte (usually port 990) instead of AUTH TLS")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of certificate authorities to trust for ftps://, in addition to the system's")
	fl.BoolVar(&f.insecureTLS, "insecure-skip-verify", false, "accept any ftps:// server certificate (self-signed NAS); the link is encrypted but not authenticated")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "FTP: give up a connection that is silent this long")
}

func newExportCmd(g *globalOptions) *cobra.Command {
	f := &exportFlags{}
	cmd := &cobra.Command{
		Use:   "export SOURCE [PATH...] --to DEST",
		Short: "Copy files of a VMFS volume to a local folder or an FTP server, with a hash manifest",
		Long: `export copies PATHs (files or whole directories; default: everything) of the
VMFS volume found on SOURCE into DEST, a local directory or an FTP server
(ftp://user@host:port/dir, ftps://... for explicit TLS, --implicit-tls for
port 990 servers). FTP URL paths are relative to the login directory, as in
curl; write ftp://host/%2Fsrv/dir for an absolute one.

Every file is written under a temporary name, its size checked, then renamed;
its sha256 is computed while reading the source and recorded in
DEST/` + export.ManifestName + ` (JSON Lines: source, dest, size, sha256, provenance,
status). Running the same export again skips complete files (same size and
hash) and continues partial ones; 'vmfsrecover verify --manifest' re-reads
the destination and compares every hash. --verify does it file by file
during the export, before a file gets its final name, and on a rerun also
re-reads the files found complete and copies again any that differ; without
it their copies are not re-read, and the summary says so. Missing folders of
DEST are created, every level.

Locally, holes of thin disks and all-zero blocks stay holes, modification
times of files, directories and links are kept, symbolic links are recreated when they point inside DEST and
skipped otherwise. Names a damaged volume holds that cannot be created safely
(control characters, "..", over-long names) are replaced; the manifest
records the original. Existing files are never replaced without --overwrite,
and never, whatever the flags, one that a SOURCE reads: the export stops
before writing it, keeping what is done, and exits 1.
A full disk or a permission error stops the export, keeping what is done.

FTP: the password comes from $` + export.FTPPasswordEnv + `, from ~/.netrc
($NETRC), or from a prompt on the terminal; never from the command line. A
dropped connection is resumed with bounded retries: SIZE until the server has
stopped writing, the file's last 64 KiB read back and compared with the
source, then REST+STOR (from the start when they differ);
--jobs copies several files at once, one connection each; by default (0)
up to 4 at once, of which one file of 64 MiB or more at a time.

--flatten writes each VMDK found (descriptor, extents and snapshot chain,
through the vmdk package) as one raw image NAME.raw instead of its files;
with --unmapped-from-parent, what the guest unmapped in an SESparse snapshot
reads from the parent (the older data) instead of as zeros.

` + fmt.Sprintf(sourcesHelp, "export lun1.img lun2.img -- /vm1 --to /mnt/rescue") + `

` + exitCodesHelp,
		Example: `  vmfsrecover export datastore.img --to /mnt/rescue
  vmfsrecover export disk1.img disk2.img -- /vm1 /vm2/vm2.vmx --to /mnt/rescue --jobs 2
  VMFSRECOVER_FTP_PASSWORD=... vmfsrecover export sdb.img --to ftps://backup@nas:21/rescue
  vmfsrecover export datastore.img /vm1 --flatten --to /mnt/rescue`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), g, f, argsWithDash(cmd, args), cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "destination: a local directory, ftp://user@host[:port]/dir or ftps://...")
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace destination files that are in the way")
	fl.IntVarP(&f.jobs, "jobs", "j", 0, export.WorkersUsage)
	fl.IntVar(&f.retries, "retries", 5, "reconnections per file after a dropped connection (with backoff)")
	fl.BoolVar(&f.noSync, "no-sync", false, "local: do not fsync each file before renaming it, nor its folder before the manifest names it, and keep its pages cached (faster; unsafe on power loss)")
	fl.BoolVar(&f.flatten, "flatten", false, "write each VMDK as one raw image (descriptor, extents and snapshots resolved)")
	fl.BoolVar(&f.unmapped, "unmapped-from-parent", false, "with --flatten: read the grains the guest unmapped (TRIM) in an SESparse snapshot from its parent, the older data, instead of as zeros as VMware does")
	fl.BoolVar(&f.readBack, "verify", false, "read every file back from DEST after writing it and compare hashes (a second transfer); on a rerun, also re-read the files already complete and copy again any that differ")
	fl.BoolVar(&f.guests, "guests", false, "also export inside every VMDK's NAME.vmdk@ directory found in a folder being exported (the files inside the VMs' disks; a NAME.vmdk@ path given is always exported)")
	fl.BoolVar(&f.system, "system-files", false, "also export the volume's own metadata files (/.fdc.sf, /.pbc.sf, ...) when exporting the root")
	addDestinationFlags(cmd, f)
	cmd.MarkFlagRequired("to")
	addVolumeFlags(cmd, &f.vol)
	return cmd
}

// openDestination turns --to (or a manifest's location) into a
// destination, asking for the FTP password on a terminal when the
// environment and netrc have none.
func openDestination(to string, f *exportFlags) (export.Destination, error) {
	o := session.DestinationOptions{ImplicitTLS: f.implicitTLS, CAFile: f.caFile, InsecureTLS: f.insecureTLS, Timeout: f.timeout, NoSync: f.noSync}
	dst, err := session.OpenDestination(to, o, "", passwordPrompt())
	if errors.Is(err, session.ErrBadDestination) {
		return nil, withExitCode(exitUsage, err)
	}
	return dst, err
}

// passwordPrompt asks for an FTP password on the terminal, when there is
// one.
func passwordPrompt() export.PasswordSources {
	var src export.PasswordSources
	if term.IsTerminal(int(os.Stdin.Fd())) {
		src.Prompt = func(q string) (string, error) {
			fmt.Fprint(os.Stderr, q)
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(b), err
		}
	}
	return src
}

// progressFor shows the progress of the work named by label on stderr
// unless --quiet or --json.
func progressFor(g *globalOptions, label string) export.Progress {
	return progressTo(g, os.Stderr, label)
}

// progressTo is the one progress display of exports and verifications, the
// commands' and the wizard's: bars on a terminal, plain lines otherwise,
// nothing with --quiet or --json.
func progressTo(g *globalOptions, w io.Writer, label string) export.Progress {
	if g.quiet || g.json {
		return nil
	}
	f, ok := w.(*os.File)
	return export.NewProgress(w, label, ok && term.IsTerminal(int(f.Fd())), 10*time.Second)
}

func runExport(ctx context.Context, g *globalOptions, f *exportFlags, args []string, out io.Writer) (err error) {
	if f.to == "" {
		return withExitCode(exitUsage, errors.New("--to DEST is required"))
	}
	if err := export.CheckWorkers(f.jobs); err != nil {
		return withExitCode(exitUsage, fmt.Errorf("--jobs: %w", err))
	}
	if f.unmapped && !f.flatten {
		return withExitCode(exitUsage, errors.New("--unmapped-from-parent changes how snapshots are read: it needs --flatten"))
	}
	a, err := splitSources("export", args, 0, -1)
	if err != nil {
		return err
	}
	paths := a.paths
	vol, closer, err := openFS(ctx, g, &f.vol, a.sources)
	if err != nil {
		return a.explain(err)
	}
	defer closeWith(&err, closer)
	// Every path must be on the volume before the destination exists.
	for _, p := range paths {
		if _, err := fs.Stat(vol, p); err != nil {
			return a.explain(err)
		}
	}
	dst, err := openDestination(f.to, f)
	if err != nil {
		return err
	}
	// What the export reads, which it may never write: the SOURCEs and
	// their mapfiles (openFS has checked the --map values).
	reads := slices.Clone(a.sources)
	maps, _ := mapsBySource(a.sources, f.vol.maps)
	for _, p := range maps {
		reads = append(reads, p)
	}
	opts := session.ExportOptions{SystemFiles: f.system, Guests: f.guests, Sources: reads, Options: export.Options{
		Overwrite: f.overwrite,
		Workers:   f.jobs,
		Retries:   f.retries,
		ReadBack:  f.readBack,
		Progress:  progressFor(g, "export"),
		Logger:    plainLogger(g, os.Stderr),
	}}
	if f.retries == 0 {
		opts.Retries = -1
	}
	if f.flatten {
		opts.Flatten = export.VMDKFlattener(&vmdk.Options{UnmappedFromParent: f.unmapped})
	}
	rep, err := session.Export(ctx, vol, paths, dst, opts)
	if rep != nil {
		if werr := writeExportReport(g, rep, dst, out); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return withExitCode(exitPartial, fmt.Errorf("%d of %d items failed (see the output and the manifest)", rep.Failed, len(rep.Entries)))
	}
	if rep.Warned > 0 {
		return withExitCode(exitPartial, fmt.Errorf("%d exported file(s) are known to be incomplete: bytes read as zeros (see the output and the warnings in the manifest)", rep.Warned))
	}
	return nil
}

func writeExportReport(g *globalOptions, rep *export.Report, dst export.Destination, out io.Writer) error {
	manifestErr := ""
	if rep.ManifestError != nil {
		manifestErr = rep.ManifestError.Error()
	}
	if g.json {
		return json.NewEncoder(out).Encode(struct {
			Destination string `json:"destination"`
			// Manifest is "" when it was not written.
			Manifest      string         `json:"manifest"`
			ManifestError string         `json:"manifest_error,omitempty"`
			Exported      int            `json:"exported"`
			Repaired      int            `json:"repaired"`
			Complete      int            `json:"complete"`
			Unchecked     int            `json:"complete_not_reread"`
			Failed        int            `json:"failed"`
			Skipped       int            `json:"skipped"`
			Warned        int            `json:"warned"`
			Bytes         int64          `json:"bytes"`
			Entries       []export.Entry `json:"entries"`
		}{dst.String(), rep.Manifest, manifestErr, rep.Exported, rep.Repaired, rep.Complete, rep.Unchecked, rep.Failed, rep.Skipped, rep.Warned, rep.Bytes, rep.Entries})
	}
	if len(rep.Entries) == 0 && rep.Manifest == "" && rep.ManifestError == nil {
		return nil // stopped before anything was tried: the error says why
	}
	for _, e := range rep.Entries {
		switch {
		case e.Status == export.StatusFailed || e.Status == export.StatusSkipped:
			fmt.Fprintf(out, "%s\t%s\t%s\n", e.Status, e.Source, e.Error)
		case e.Repaired:
			fmt.Fprintf(out, "repaired\t%s\tthe copy in the destination differed: copied again\n", e.Dest)
		case e.Renamed && e.Kind != export.KindDir:
			fmt.Fprintf(out, "renamed\t%q -> %s\n", e.Source, e.Dest)
		}
		for _, w := range e.Warnings {
			fmt.Fprintf(out, "warning\t%s\t%s\n", e.Source, w)
		}
	}
	repaired := ""
	if rep.Repaired > 0 {
		repaired = fmt.Sprintf(" (%d repaired)", rep.Repaired)
	}
	manifest := fmt.Sprintf("manifest %s in %s", rep.Manifest, dst)
	if rep.Manifest == "" {
		manifest = fmt.Sprintf("no manifest written in %s", dst)
		if manifestErr != "" {
			manifest += ": " + manifestErr
		}
	}
	fmt.Fprintf(out, "%d exported%s, %d already complete, %d failed, %d skipped, %d with warnings; %d bytes; %s\n",
		rep.Exported, repaired, rep.Complete, rep.Failed, rep.Skipped, rep.Warned, rep.Bytes, manifest)
	if rep.Unchecked > 0 {
		fmt.Fprintf(out, "%d already complete file(s) were not re-read from the destination (only their size and the source's hash were checked); --verify re-reads them and copies again any that differ\n", rep.Unchecked)
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/damage"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/guest"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

func newStatCmd(g *globalOptions) *cobra.Command {
	var sf statFlags
	cmd := &cobra.Command{
		Use:   "stat SOURCE PATH",
		Short: "Show the VMFS attributes of a file",
		Long: `stat prints what the file descriptor of PATH records: type, size, mode,
owner, times, descriptor address, addressing mode (resident, file blocks,
sub-blocks, pointer blocks, double indirect), block size, allocated blocks,
provisioning (thin, lazy- or eager-zeroed thick) and allocated bytes.

With --damage it also reads the file's data and reports ranges that look
overwritten by ransomware: runs of random-looking (encrypted) 64 KiB blocks
in a file whose other blocks are not, and a first sector that holds random
bytes instead of a partition table. What lies outside those ranges is the
guest's data as it was.

With --search it reads the file as a guest disk and finds the guest's file
systems by their boot sectors, superblocks and backup copies, as 'info
--search' does for a disk outside a volume, and prints the cat --offset
--length command that copies each one out, with the commands that rebuild
a destroyed head in the copy and mount it.

` + fmt.Sprintf(sourcesHelp, "stat lun1.img lun2.img -- /vm1/vm1-flat.vmdk") + `

` + exitCodesHelp,
		Example: `  vmfsrecover stat datastore.img /vm1/vm1-flat.vmdk
  vmfsrecover stat --json datastore.img /
  vmfsrecover stat --damage --deep encrypted.img /vm1/vm1-flat.vmdk
  vmfsrecover stat --search encrypted.img /vm1/vm1-flat.vmdk`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStat(cmd.Context(), g, sf, argsWithDash(cmd, args), cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&sf.damage, "damage", false, "read the data and report ranges that look encrypted by ransomware")
	cmd.Flags().BoolVar(&sf.search, "search", false, "read the file (a -flat.vmdk) and find the guest's file systems by their superblocks and backups, without its partition table")
	addVolumeFlags(cmd, &sf.vol)
	return cmd
}

type statReport struct {
	listing.Entry
	Allocated int64          `json:"allocated"`
	Warnings  []string       `json:"warnings,omitempty"` // bytes known lost: a missing extent (--tolerant)
	Damage    *damage.Report `json:"damage,omitempty"`
	// Found lists the guest file systems --search found.
	Found []partition.Found `json:"search,omitempty"`
}

// statFlags are the reads stat can add to the descriptor's attributes.
type statFlags struct {
	damage, search bool
	vol            volumeFlags
}

func runStat(ctx context.Context, g *globalOptions, sf statFlags, args []string, out io.Writer) (err error) {
	a, err := splitSources("stat", args, 1, 1)
	if err != nil {
		return err
	}
	paths := a.paths
	vol, closer, err := openFS(ctx, g, &sf.vol, a.sources)
	if err != nil {
		return a.explain(err)
	}
	defer closeWith(&err, closer)
	e, err := listing.Describe(vol, paths[0], false)
	if err != nil {
		return a.explain(err)
	}
	r := statReport{Entry: e}
	if e.Type == "file" {
		f, err := vol.Open(paths[0])
		if err != nil {
			return err
		}
		defer f.Close()
		var m allocmap.Map
		if mapper, ok := f.(allocmap.Mapper); ok {
			if m, err = mapper.AllocationMap(); err != nil {
				return fmt.Errorf("%s: allocation map: %w", e.Path, err)
			}
			r.Allocated = m.Total()
		}
		if w, ok := f.(export.Warner); ok {
			if _, deep := e.Attrs.(*deepscan.Finding); !deep { // a finding's anomalies print as such
				r.Warnings = w.Warnings()
			}
		}
		ra, ok := f.(io.ReaderAt)
		if ok && sf.damage {
			if r.Damage, err = damage.Analyze(ctx, ra, e.Size, m); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
		}
		if ok && sf.search {
			total := e.Size
			if m != nil {
				total = m.Total()
			}
			update, finish := g.byteProgress("search", total, nil)
			r.Found, err = partition.Search(ctx, ra, e.Size, m, func(done int64) { update(done, total) })
			finish()
			if err != nil {
				return fmt.Errorf("%s: search: %w", e.Path, err)
			}
		}
	}
	if g.json {
		err = json.NewEncoder(out).Encode(r)
	} else {
		err = printStat(out, r)
	}
	if err != nil {
		return err
	}
	if sf.search && !g.json {
		printFound(out, r.Found, func(f partition.Found, img string) string {
			// The options first: none is read after the -- that ends several SOURCEs.
			return fmt.Sprintf("vmfsrecover cat --offset %d --length %d %s %s > %s", f.Start, f.Size, a.sourceArgs(), textout.ShellQuote(e.Path), img)
		})
	}
	if sf.search && len(r.Found) == 0 {
		return withExitCode(exitPartial, fmt.Errorf("%s: search found no file system", e.Path))
	}
	if d := r.Damage; d != nil && (len(d.Suspect) > 0 || d.HeadDamaged) {
		return withExitCode(exitPartial, fmt.Errorf("%s: %d suspect ranges", e.Path, len(d.Suspect)))
	}
	if len(r.Warnings) > 0 {
		return withExitCode(exitPartial, fmt.Errorf("%s: bytes lost to a missing extent", e.Path))
	}
	return nil
}

func printStat(out io.Writer, r statReport) error {
	e := r.Entry
	a, _ := e.Attrs.(*vmfs.Attributes)
	if finding, ok := e.Attrs.(*deepscan.Finding); ok {
		a = finding.VMFS
		fmt.Fprintf(out, "provenance:    %s (confidence %.1f)\n", finding.Kind, finding.Confidence)
		if finding.NameFrom != "" {
			fmt.Fprintf(out, "name from:     %s\n", finding.NameFrom)
		}
		for _, an := range finding.Anomalies {
			fmt.Fprintf(out, "anomaly:       %s\n", an)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "path:\t%s\n", e.Path)
	fmt.Fprintf(tw, "type:\t%s\n", e.Type)
	fmt.Fprintf(tw, "size:\t%d bytes (%s)\n", e.Size, textout.Bytes(e.Size))
	if e.Target != "" {
		fmt.Fprintf(tw, "target:\t%s\n", e.Target)
	}
	fmt.Fprintf(tw, "mode:\t%s\n", e.Mode)
	if e.Layer != "" {
		fmt.Fprintf(tw, "layer:\t%s\n", e.Layer)
		if e.State != "" {
			fmt.Fprintf(tw, "state:\t%s\n", e.State)
		}
		if gi, ok := e.Guest.(*guest.Info); ok && gi.Entry != nil {
			fmt.Fprintf(tw, "modified:\t%s\n", e.MTime.UTC().Format("2006-01-02 15:04:05 UTC"))
			fmt.Fprintf(tw, "id:\t%d (inode, MFT record or first cluster), %d links\n", gi.Entry.ID, max(gi.Entry.Links, 1))
			if o := gi.Entry.Owner; o != nil {
				fmt.Fprintf(tw, "owner:\tuid %d, gid %d\n", o.UID, o.GID)
			}
		}
	}
	if a != nil {
		fmt.Fprintf(tw, "owner:\tuid %d, gid %d\n", a.UID, a.GID)
		fmt.Fprintf(tw, "modified:\t%s\n", a.MTime.Format("2006-01-02 15:04:05 UTC"))
		fmt.Fprintf(tw, "changed:\t%s\n", a.CTime.Format("2006-01-02 15:04:05 UTC"))
		fmt.Fprintf(tw, "accessed:\t%s\n", a.ATime.Format("2006-01-02 15:04:05 UTC"))
		fmt.Fprintf(tw, "descriptor:\t%#08x (%s) at volume offset %#x, generation %d, %d links\n", a.FD, a.Type, a.VolumeOff, a.Generation, a.Links)
		fmt.Fprintf(tw, "addressing:\t%s, block size %s, %d blocks recorded\n", a.Addressing, textout.Bytes(a.BlockSize), a.Blocks)
		if a.Provisioned != "" {
			fmt.Fprintf(tw, "provisioning:\t%s (%d blocks to be zeroed)\n", a.Provisioned, a.TBZBlocks)
		}
	}
	if e.Type == "file" {
		fmt.Fprintf(tw, "allocated:\t%d bytes (%s)\n", r.Allocated, textout.Bytes(r.Allocated))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(tw, "warning:\t%s\n", w)
	}
	if d := r.Damage; d != nil {
		fmt.Fprintf(tw, "damage scan:\t%d bytes read, %.1f%% random-looking blocks\n", d.Examined, 100*d.RandomFrac)
		if d.HeadDamaged {
			fmt.Fprintf(tw, "head:\tthe first sector holds random bytes, not a partition table: encrypted or overwritten; export the file and run 'vmfsrecover info --search' on it to find the guest's file systems by their backups\n")
		}
		for _, s := range d.Suspect {
			fmt.Fprintf(tw, "suspect:\tbytes %d-%d (%s): %s\n", s.Off, s.Off+s.Len, textout.Bytes(s.Len), s.Reason)
		}
	}
	return tw.Flush()
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

type infoOptions struct {
	*globalOptions
	tolerant bool
	search   bool
}

func newInfoCmd(g *globalOptions) *cobra.Command {
	o := &infoOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "info SOURCE",
		Short: "Describe a VMDK or raw disk: type, capacity, extents, snapshot chain, allocation",
		Long: `info opens SOURCE (a VMDK descriptor, a single-file sparse VMDK, a snapshot
delta or a raw/flat image) read-only and prints its create type, capacity,
extents, snapshot chain with CIDs, allocated bytes, adapter type, geometry and
any warnings. For a raw image (a -flat.vmdk whose descriptor is lost) it also
prints the descriptor that would make it a VMDK again.

--search reads the whole disk and finds the guest's file systems by their
boot sectors, superblocks and the backup copies each keeps (NTFS, FAT32,
exFAT, ext2/3/4, XFS, Btrfs), without the partition table: what is needed
when ransomware encrypted the start of a -flat.vmdk, or a partition table
was overwritten. For each it prints the commands that copy it out (dump
--offset --length), rebuild a destroyed head from its backup in that copy,
and mount the copy read-only.

` + exitCodesHelp,
		Example: `  vmfsrecover info vm/disk.vmdk
  vmfsrecover info --json vm/disk-000002.vmdk
  vmfsrecover info --tolerant vm/disk-flat.vmdk
  vmfsrecover info --search encrypted-flat.vmdk`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInfo(cmd.Context(), o, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.tolerant, "tolerant", false, "open even with missing extents or parents (they read as zeros) and report them")
	cmd.Flags().BoolVar(&o.search, "search", false, "read the whole disk and find the guest's file systems by their superblocks and backups, without the partition table")
	return cmd
}

// infoReport is vmdk.Info plus the allocated byte count.
type infoReport struct {
	vmdk.Info
	Allocated int64 `json:"allocated"`
	// Found lists the file systems --search found.
	Found []partition.Found `json:"search,omitempty"`
}

func runInfo(ctx context.Context, o *infoOptions, spec string, out io.Writer) error {
	d, closeDisk, err := source.OpenVMDK(spec, source.Options{Tolerant: o.tolerant})
	if err != nil {
		return err
	}
	defer closeDisk()
	m, err := d.AllocationMap()
	if err != nil {
		return fmt.Errorf("allocation map: %w", err)
	}
	r := infoReport{Info: d.Info(), Allocated: m.Total()}
	if o.search {
		update, finish := o.byteProgress("search", m.Total(), nil)
		r.Found, err = partition.Search(ctx, d, d.Size(), m, func(done int64) { update(done, m.Total()) })
		finish()
		if err != nil {
			return fmt.Errorf("%s: search: %w", spec, err)
		}
	}
	if o.json {
		if err := json.NewEncoder(out).Encode(r); err != nil {
			return err
		}
	} else if err := printInfo(out, r); err != nil {
		return err
	} else if o.search {
		printFound(out, r.Found, func(f partition.Found, img string) string {
			return fmt.Sprintf("vmfsrecover dump %s --offset %d --length %d -o %s", textout.ShellQuote(spec), f.Start, f.Size, img)
		})
	}
	if o.search && len(r.Found) == 0 {
		return withExitCode(exitPartial, fmt.Errorf("%s: search found no file system", spec))
	}
	if len(r.Warnings) > 0 {
		return withExitCode(exitPartial, fmt.Errorf("%s: finished with %d warning(s), listed in the output", spec, len(r.Warnings)))
	}
	return nil
}

func printInfo(w io.Writer, r infoReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "path:\t%s\n", r.Path)
	fmt.Fprintf(tw, "kind:\t%s\n", r.Kind)
	if r.CreateType != "" {
		fmt.Fprintf(tw, "createType:\t%s\n", r.CreateType)
	}
	fmt.Fprintf(tw, "capacity:\t%d bytes (%s)\n", r.Capacity, textout.Bytes(r.Capacity))
	fmt.Fprintf(tw, "allocated:\t%d bytes (%s)\n", r.Allocated, textout.Bytes(r.Allocated))
	if r.AdapterType != "" {
		fmt.Fprintf(tw, "adapter:\t%s\n", r.AdapterType)
	}
	if g := r.Geometry; g != nil {
		fmt.Fprintf(tw, "geometry:\t%d/%d/%d (C/H/S)\n", g.Cylinders, g.Heads, g.Sectors)
	}
	if r.Thin {
		fmt.Fprintf(tw, "thin:\tyes\n")
	}
	if r.UUID != "" {
		fmt.Fprintf(tw, "uuid:\t%s\n", r.UUID)
	}
	tw.Flush()
	fmt.Fprintf(w, "chain (newest first):\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  #\tPATH\tKIND\tCREATETYPE\tCID\tPARENTCID\tPARENT HINT\n")
	for i, l := range r.Chain {
		hint := dash(l.ParentHint)
		if l.ParentMissing {
			hint += " (MISSING: reads as zeros)"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", i, l.Path, l.Kind, dash(l.CreateType), dash(l.CID), dash(l.ParentCID), hint)
	}
	tw.Flush()
	fmt.Fprintf(w, "extents:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  LINK\tSTART\tSIZE\tACCESS\tTYPE\tFORMAT\tFILE\tNOTE\n")
	for _, e := range r.Extents {
		file := dash(e.File)
		if e.File != "" {
			file = e.File
			if e.FileStart != 0 {
				file += fmt.Sprintf(" @%d", e.FileStart)
			}
		}
		fmt.Fprintf(tw, "  %d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", e.Link, e.Start, e.Size, e.Access, e.Type, e.Format, file, e.Note)
	}
	tw.Flush()
	if r.Descriptor != "" {
		fmt.Fprintf(w, "no descriptor: read as a raw disk. Saved as %s next to it, this descriptor makes it a VMDK again:\n%s", r.DescriptorName, r.Descriptor)
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
	return nil
}

// printFound lists the file systems a search found, each with the
// commands that recover it: copyOut copies it into img.
func printFound(w io.Writer, found []partition.Found, copyOut func(f partition.Found, img string) string) {
	fmt.Fprintf(w, "file systems found by search (the partition table is not used):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  START\tSIZE\tFS\tHEAD\tPLACED BY\n")
	for _, f := range found {
		head := "intact"
		if !f.HeadIntact {
			head = "DESTROYED"
		}
		fmt.Fprintf(tw, "  %d\t%d (%s)\t%s\t%s\t%s\n", f.Start, f.Size, textout.Bytes(f.Size), f.FS, head, strings.Join(f.Evidence, "; "))
	}
	tw.Flush()
	if len(found) == 0 {
		return
	}
	fmt.Fprintf(w, "to recover one, copy it out, rebuild a destroyed head in the copy, and mount the copy read-only:\n")
	for _, f := range found {
		img := fmt.Sprintf("%s-%d.img", strings.ToLower(f.FS), f.Start)
		fmt.Fprintf(w, "  # %s at byte %d\n", f.FS, f.Start)
		fmt.Fprintf(w, "  %s\n", copyOut(f, img))
		if cmd := f.Repair(img); cmd != "" {
			fmt.Fprintf(w, "  %s\n", cmd)
		}
		fmt.Fprintf(w, "  mount -o ro,loop %s /mnt\n", img)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

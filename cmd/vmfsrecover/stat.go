package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmdk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
)

func newStatCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stat SOURCE... PATH",
		Short: "Show the VMFS attributes of a file",
		Long: `stat prints what the file descriptor of PATH records: type, size, mode,
owner, times, descriptor address, addressing mode (resident, file blocks,
sub-blocks, pointer blocks, double indirect), block size, allocated blocks,
provisioning (thin, lazy- or eager-zeroed thick) and allocated bytes.

` + exitCodesHelp,
		Example: `  vmfsrecover stat datastore.img /vm1/vm1-flat.vmdk
  vmfsrecover stat --json datastore.img /`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStat(cmd.Context(), g, args, cmd.OutOrStdout())
		},
	}
	addVolumeFlags(cmd, g)
	return cmd
}

type statReport struct {
	listing.Entry
	Allocated int64 `json:"allocated"`
}

func runStat(ctx context.Context, g *globalOptions, args []string, out io.Writer) (err error) {
	sources, paths, err := splitSources(args, 1)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return withExitCode(exitUsage, fmt.Errorf("stat needs a PATH inside the volume after the SOURCEs"))
	}
	vol, closer, err := openFS(ctx, g, sources)
	if err != nil {
		return err
	}
	defer closeWith(&err, closer)
	e, err := listing.Describe(vol, paths[0], false)
	if err != nil {
		return err
	}
	r := statReport{Entry: e}
	if e.Type == "file" {
		f, err := vol.Open(paths[0])
		if err != nil {
			return err
		}
		if mapper, ok := f.(allocmap.Mapper); ok {
			m, err := mapper.AllocationMap()
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: allocation map: %w", e.Path, err)
			}
			r.Allocated = m.Total()
		}
		f.Close()
	}
	if g.json {
		return json.NewEncoder(out).Encode(r)
	}
	a, _ := e.Attrs.(*vmfs.Attributes)
	if finding, ok := e.Attrs.(*deepscan.Finding); ok {
		a = finding.VMFS
		fmt.Fprintf(out, "provenance:    %s (confidence %.1f)\n", finding.Kind, finding.Confidence)
		for _, an := range finding.Anomalies {
			fmt.Fprintf(out, "anomaly:       %s\n", an)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "path:\t%s\n", e.Path)
	fmt.Fprintf(tw, "type:\t%s\n", e.Type)
	fmt.Fprintf(tw, "size:\t%d bytes (%s)\n", e.Size, humanBytes(e.Size))
	if e.Target != "" {
		fmt.Fprintf(tw, "target:\t%s\n", e.Target)
	}
	fmt.Fprintf(tw, "mode:\t%s\n", e.Mode)
	if a != nil {
		fmt.Fprintf(tw, "owner:\tuid %d, gid %d\n", a.UID, a.GID)
		fmt.Fprintf(tw, "modified:\t%s\n", a.MTime.Format("2006-01-02 15:04:05 UTC"))
		fmt.Fprintf(tw, "changed:\t%s\n", a.CTime.Format("2006-01-02 15:04:05 UTC"))
		fmt.Fprintf(tw, "accessed:\t%s\n", a.ATime.Format("2006-01-02 15:04:05 UTC"))
		fmt.Fprintf(tw, "descriptor:\t%#08x (%s) at volume offset %#x, generation %d, %d links\n", a.FD, a.Type, a.VolumeOff, a.Generation, a.Links)
		fmt.Fprintf(tw, "addressing:\t%s, block size %s, %d blocks recorded\n", a.Addressing, humanBytes(a.BlockSize), a.Blocks)
		if a.Provisioned != "" {
			fmt.Fprintf(tw, "provisioning:\t%s (%d blocks to be zeroed)\n", a.Provisioned, a.TBZBlocks)
		}
	}
	if e.Type == "file" {
		fmt.Fprintf(tw, "allocated:\t%d bytes (%s)\n", r.Allocated, humanBytes(r.Allocated))
	}
	return tw.Flush()
}

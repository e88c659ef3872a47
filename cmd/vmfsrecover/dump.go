package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

type dumpOptions struct {
	*globalOptions
	output   string
	tolerant bool
	unmapped bool
	force    bool
	byteRange
}

func newDumpCmd(g *globalOptions) *cobra.Command {
	o := &dumpOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "dump SOURCE -o FILE [--offset N --length N]",
		Short: "Write a VMDK's whole virtual disk as a raw image (holes stay holes, chains flattened)",
		Long: `dump reads the virtual disk of SOURCE (any VMDK subformat, a snapshot delta
with its parents, or a raw image) and writes it to FILE as a raw disk image.
Unallocated ranges and all-zero blocks are left as holes, so FILE takes only
the space the data needs. A snapshot chain is flattened: FILE holds what the
newest link shows. FILE must not exist unless --force is given, and may
never be SOURCE or anything it reads (an extent, a parent, the disk under a
partition), whatever the flags.

--offset and --length write only that byte range of the virtual disk: one
guest partition or file system, as 'info --search' places them when the
partition table is gone.

` + exitCodesHelp,
		Example: `  vmfsrecover dump vm/disk.vmdk -o /mnt/recovered/disk.raw
  vmfsrecover dump --tolerant vm/disk-000001.vmdk -o disk.raw   # missing parts as zeros
  vmfsrecover dump vm/disk-flat.vmdk --offset 1048576 --length 53687091200 -o part1.img`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDump(cmd.Context(), o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "raw image to write (required)")
	cmd.Flags().BoolVar(&o.tolerant, "tolerant", false, "read missing extents or parents and damaged ranges as zeros, and report them")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite FILE if it exists (never a file SOURCE reads)")
	cmd.Flags().BoolVar(&o.unmapped, "unmapped-from-parent", false, "read the grains the guest unmapped (TRIM) in an SESparse snapshot from its parent, the older data, instead of as zeros as VMware does")
	o.addFlags(cmd, "virtual disk")
	cmd.MarkFlagRequired("output")
	return cmd
}

// createOutput opens the dump's output for writing: a new file, or with
// force an existing one, emptied once the guard has made sure it is no
// source (the check is on the opened file, so no path trick can slip
// between the check and the write).
func createOutput(name string, force bool, guard *writeguard.Guard) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if !force {
		flags |= os.O_EXCL
	}
	out, err := os.OpenFile(name, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, withExitCode(exitUsage, fmt.Errorf("%s exists; use --force to overwrite it", name))
	}
	if err != nil {
		return nil, err
	}
	if err := guard.CheckFile(name, out); err != nil {
		out.Close()
		return nil, err
	}
	if fi, err := out.Stat(); err == nil && fi.Mode().IsRegular() {
		if err := out.Truncate(0); err != nil {
			out.Close()
			return nil, err
		}
	}
	return out, nil
}

// dumpResult is the --json report of dump.
type dumpResult struct {
	Source    string   `json:"source"`
	Output    string   `json:"output"`
	Offset    int64    `json:"offset,omitempty"` // of the range written
	Size      int64    `json:"size"`
	Allocated int64    `json:"allocated"`
	Written   int64    `json:"written"`
	Warnings  []string `json:"warnings,omitempty"`
}

func runDump(ctx context.Context, o *dumpOptions, spec string, stdout, stderr io.Writer) error {
	d, closeDisk, err := source.OpenVMDK(spec, source.Options{Tolerant: o.tolerant, UnmappedFromParent: o.unmapped})
	if err != nil {
		return err
	}
	defer closeDisk()
	guard := writeguard.New()
	guard.AddDisk(d)
	if err := guard.Check(o.output); err != nil {
		return err
	}
	m, err := d.AllocationMap()
	if err != nil {
		return fmt.Errorf("allocation map: %w", err)
	}
	r, err := o.section(d, d.Size())
	if err != nil {
		return err
	}
	length := r.Size()
	m = m.Window(o.offset, length)
	out, err := createOutput(o.output, o.force, guard)
	if err != nil {
		return err
	}
	update, finish := o.byteProgressTo(stderr, "dump", m.Total(), nil, nil)
	written, err := vmdk.CopySparse(ctx, out, r, m, func(done int64) { update(done, m.Total()) })
	finish()
	if err == nil {
		err = out.Truncate(length)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dump to %s: %w (the output is incomplete)", o.output, err)
	}
	res := dumpResult{Source: spec, Output: o.output, Offset: o.offset, Size: length, Allocated: m.Total(), Written: written, Warnings: d.Warnings()}
	if o.json {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else if !o.quiet {
		fmt.Fprintf(stdout, "wrote %s: %d bytes virtual, %d allocated, %d written\n", o.output, res.Size, res.Allocated, res.Written)
		for _, w := range res.Warnings {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
	}
	if len(res.Warnings) > 0 {
		return withExitCode(exitPartial, fmt.Errorf("%s: finished with %d warning(s), listed in the output", spec, len(res.Warnings)))
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
)

type previewOptions struct {
	maxBytes int64
	offset   int64
	vol      volumeFlags
}

func newPreviewCmd(g *globalOptions) *cobra.Command {
	o := &previewOptions{}
	cmd := &cobra.Command{
		Use:   "preview SOURCE PATH",
		Short: "Show a file of a VMFS volume without exporting it: text, hex dump, VM and disk summaries",
		Long: `preview shows PATH, a file on the VMFS volume found on SOURCE, without
exporting it:

  - text files (.vmx, .vmsd, .log, VMDK descriptors, ...) as text, capped
    at --max-bytes (default 64 KiB); other files as a hex dump (default
    4 KiB); --offset starts elsewhere;
  - a .vmx as a summary: VM name, guest OS, CPUs, memory, disks (and whether
    each disk's descriptor, extents and snapshot parents are on the volume),
    network adapters;
  - a .vmdk as a summary: type, capacity, allocated bytes, extents, snapshot
    chain and the parts that are missing, the guest's partition table
    (MBR/GPT) and the file system of each partition (NTFS, ext2/3/4, XFS,
    FAT, exFAT, LVM2, swap, ReFS, Btrfs, BitLocker, VMFS, ISO9660) by
    signature;
  - a directory as its entries, a symbolic link as its target.

--deep previews what the deep scan recovered (deleted, orphaned and carved
files of damaged volumes). --json prints the same as one JSON object.
Missing parts are reported, not errors: the exit status is 0 whenever the
preview could be shown.

` + fmt.Sprintf(sourcesHelp, "preview lun1.img lun2.img -- /vm1/vm1.vmx") + `

` + exitCodesHelp,
		Example: `  vmfsrecover preview datastore.img /vm1/vm1.vmx
  vmfsrecover preview --json datastore.img /vm1/vm1.vmdk
  vmfsrecover preview --deep damaged.img /lost+found/fd-0x00c00004
  vmfsrecover preview --offset 1048576 --max-bytes 512 datastore.img /vm1/vm1-flat.vmdk`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPreview(cmd.Context(), g, o, argsWithDash(cmd, args), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.maxBytes, "max-bytes", 0, "bytes of content shown (default 65536 for text, 4096 for a hex dump)")
	f.Int64Var(&o.offset, "offset", 0, "byte offset where the text or hex dump starts")
	addVolumeFlags(cmd, &o.vol)
	return cmd
}

func runPreview(ctx context.Context, g *globalOptions, o *previewOptions, args []string, out io.Writer) (err error) {
	a, err := splitSources("preview", args, 1, 1)
	if err != nil {
		return err
	}
	if o.maxBytes < 0 || o.offset < 0 {
		return withExitCode(exitUsage, fmt.Errorf("--max-bytes and --offset must not be negative"))
	}
	vol, closer, err := openFS(ctx, g, &o.vol, a.sources)
	if err != nil {
		return a.explain(err)
	}
	defer closeWith(&err, closer)
	fi, err := fs.Stat(vol, a.paths[0])
	if err != nil {
		return a.explain(err)
	}
	if o.offset != 0 && fi.Mode().IsRegular() {
		if _, err := (byteRange{offset: o.offset}).within(fi.Size()); err != nil {
			return err
		}
	}
	r, err := preview.Preview(ctx, vol, a.paths[0], preview.Options{
		MaxText: o.maxBytes, MaxHex: o.maxBytes, Offset: o.offset, Tolerant: o.vol.tolerant,
	})
	if err != nil {
		return a.explain(err)
	}
	if g.json {
		return json.NewEncoder(out).Encode(r)
	}
	return r.WriteText(out)
}

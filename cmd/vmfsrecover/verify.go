package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
)

func newVerifyCmd(g *globalOptions) *cobra.Command {
	f := &exportFlags{}
	var manifest string
	cmd := &cobra.Command{
		Use:   "verify --manifest FILE",
		Short: "Re-read an export's destination and compare every file with its manifest hash",
		Long: `verify reads the manifest an export wrote (a local path, or
ftp://user@host/dir/` + export.ManifestName + `), reads back every exported file
from the same destination, and compares its size and sha256 with the manifest.
Files that differ, are missing or cannot be read are listed; any of them
makes the exit status 4.

` + exitCodesHelp,
		Example: `  vmfsrecover verify --manifest /mnt/rescue/` + export.ManifestName + `
  vmfsrecover verify --manifest ftps://backup@nas/rescue/` + export.ManifestName,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, f, manifest, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&manifest, "manifest", "", "the manifest: a local file or an ftp:// / ftps:// URL")
	cmd.MarkFlagRequired("manifest")
	addDestinationFlags(cmd, f)
	return cmd
}

func runVerify(ctx context.Context, g *globalOptions, f *exportFlags, manifest string, out io.Writer) error {
	if manifest == "" {
		return withExitCode(exitUsage, errors.New("--manifest FILE is required"))
	}
	// The destination root is the manifest's directory; entries are
	// relative to it.
	root, name, err := session.SplitManifest(manifest)
	if err != nil {
		return withExitCode(exitUsage, err)
	}
	dst, err := openDestination(root, f)
	if err != nil {
		return err
	}
	res, err := session.VerifyManifest(ctx, dst, name, manifest, progressFor(g, "verify"))
	if res != nil {
		if g.json {
			if jerr := json.NewEncoder(out).Encode(res); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			for _, m := range res.Mismatches {
				fmt.Fprintf(out, "MISMATCH\t%s\n", m)
			}
			fmt.Fprintf(out, "%d files checked, %d bytes, %d mismatches\n", res.Checked, res.Bytes, len(res.Mismatches))
		}
	}
	if errors.Is(err, export.ErrMismatch) {
		return withExitCode(exitVerify, err)
	}
	return err
}

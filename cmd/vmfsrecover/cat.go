package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"
)

func newCatCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cat SOURCE... PATH",
		Short: "Write a file of a VMFS volume to standard output",
		Long: `cat writes the content of PATH, a file on the VMFS volume found on the
SOURCEs, to standard output. Holes and lazily zeroed blocks read as zeros.

` + exitCodesHelp,
		Example: `  vmfsrecover cat datastore.img /vm1/vm1.vmx
  vmfsrecover cat disk1.img disk2.img /vm1/vm1-flat.vmdk > vm1-flat.vmdk`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCat(cmd.Context(), g, args, cmd.OutOrStdout())
		},
	}
	addVolumeFlags(cmd, g)
	return cmd
}

func runCat(ctx context.Context, g *globalOptions, args []string, out io.Writer) (err error) {
	sources, paths, err := splitSources(args, 1)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return withExitCode(exitUsage, fmt.Errorf("cat needs a PATH inside the volume after the SOURCEs"))
	}
	vol, closer, err := openFS(ctx, g, sources)
	if err != nil {
		return err
	}
	defer closeWith(&err, closer)
	f, err := vol.Open(paths[0])
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.IsDir() {
		return &fs.PathError{Op: "cat", Path: "/" + paths[0], Err: fmt.Errorf("is a directory")}
	}
	_, err = io.CopyBuffer(out, ctxReader{ctx, f}, make([]byte, 1<<20))
	return err
}

// ctxReader stops a long copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of vmfsrecover",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			version := "devel"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				version = bi.Main.Version
			}
			if opts.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]string{"version": version})
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "vmfsrecover", version)
			return err
		},
	}
}

package main

import (
	"errors"
	"log/slog"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every command accepts.
type globalOptions struct {
	json    bool // JSON Lines for listings, JSON objects for reports
	quiet   bool // no progress, no warnings
	verbose bool // debug logging on stderr
}

// logLevel is the level --quiet and --verbose ask for.
func (o *globalOptions) logLevel() slog.Level {
	switch {
	case o.quiet:
		return slog.LevelError
	case o.verbose:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func newRootCmd() *cobra.Command {
	opts := &globalOptions{}
	root := &cobra.Command{
		Use:   "vmfsrecover",
		Short: "Recover VMFS datastores, VMDK disks and ESXi network configuration, read-only",
		Long: `vmfsrecover reads raw disks, partition images and VMDK files strictly read-only,
finds VMFS3/5/6 volumes on them (also damaged, reformatted or spanned ones),
lists, previews and exports their files, and rebuilds an ESXi host's VMkernel
network layout from its recovered configuration.

A SOURCE is a disk image, a partition image, a block device or a VMDK file.
Commands that read a volume take the SOURCE first, then paths inside the
volume; several SOURCEs (a spanned volume) come before --:
  vmfsrecover ls datastore.img /vm1
  vmfsrecover ls lun1.img lun2.img -- /vm1
` + remoteSourceHelp + `

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withExitCode(exitUsage, err)
	})
	pf := root.PersistentFlags()
	pf.BoolVar(&opts.json, "json", false, "machine-readable output (JSON Lines for listings)")
	pf.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress bars or warnings on stderr")
	pf.BoolVarP(&opts.verbose, "verbose", "v", false, "debug messages on stderr")
	addRemoteFlags(pf)
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if opts.quiet && opts.verbose {
			return withExitCode(exitUsage, errors.New("--quiet and --verbose exclude each other"))
		}
		// cobra checks these after this hook, with no exit status of its
		// own: checked here, they are usage errors like the others.
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return withExitCode(exitUsage, err)
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return withExitCode(exitUsage, err)
		}
		if folders, ok := allSources[cmd.Name()]; ok {
			return checkSources(args, folders)
		}
		return nil
	}

	root.AddCommand(
		newVersionCmd(opts),
		newScanCmd(opts),
		newLsCmd(opts),
		newMountCmd(opts),
		newCatCmd(opts),
		newStatCmd(opts),
		newInfoCmd(opts),
		newDumpCmd(opts),
		newImageCmd(opts),
		newNetcfgCmd(opts),
		newPreviewCmd(opts),
		newWizardCmd(opts),
		newExportCmd(opts),
		newVerifyCmd(opts),
	)
	root.Args = cobra.NoArgs // an unknown command is a usage error too
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	usageErrors(root)
	return root
}

// allSources names the commands whose every argument is a SOURCE, and
// whether a folder is one (netcfg reads an extracted support bundle); the
// commands that read a volume check theirs in splitSources, and the wizard
// its own (it also takes them from a saved state).
var allSources = map[string]bool{"scan": false, "info": false, "dump": false, "netcfg": true, "image": false}

// usageErrors makes argument-count errors of every command exit with
// exitUsage, like flag errors.
func usageErrors(cmd *cobra.Command) {
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			return withExitCode(exitUsage, args(c, a))
		}
	}
	for _, sub := range cmd.Commands() {
		usageErrors(sub)
	}
}

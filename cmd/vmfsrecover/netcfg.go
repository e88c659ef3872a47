package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/netcfg"
	"github.com/vmfsrecover/vmfsrecover/netcfg/bootbank"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
)

type netcfgOptions struct {
	*globalOptions
	dot     bool
	esxcli  bool
	raw     bool
	inspect bool
	table   bool
	part    int
}

func newNetcfgCmd(g *globalOptions) *cobra.Command {
	o := &netcfgOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "netcfg SOURCE",
		Short: "Rebuild an ESXi host's VMkernel network layout from its recovered configuration",
		Long: `netcfg reads an ESXi host's network configuration, read-only, and prints the
layout an administrator needs to rebuild it: the vmk table, a text diagram
(vSwitch -> port groups -> vmks, uplinks), the services on each vmk, routes,
DNS, IP storage, and an inspection report.

SOURCE is any of:
  esx.conf                      /etc/vmware/esx.conf
  state.tgz or local.tgz        from a bootbank (hosts, resolv.conf and
                                rc.local.d/local.sh inside are read too)
  a vm-support bundle (.tgz)    etc/ files and the ConfigStore inside
  a folder                      a copied bootbank (boot.cfg, state.tgz) or an
                                extracted local.tgz or vm-support bundle
  local.tgz.ve                  ESXi 7.0 U2+ encrypted archive; encryption.info
                                must sit in the same folder
  a bootbank partition image    FAT16/32 with boot.cfg and state.tgz
  a whole ESXi boot disk        raw image, device or VMDK; the active bootbank
                                is chosen from boot.cfg (bootstate=0, highest
                                updated=) as the installer does, or the one
                                --partition N names
  ssh://user@host/PATH          any of the above on another host, read over
                                SFTP (e.g. /bootbank of a host that still
                                answers, or its boot device)
  nbd://host/export             a boot disk exported over NBD

Encrypted configurations are decrypted when the host had no TPM. With a TPM
the key never left the chip, and netcfg says so. On 7.0 U2 and later the vmk
objects live in the ConfigStore database (inside local.tgz): netcfg reads it,
maps the few fields whose names are documented (device, IPv4 address and
mask, DHCP) and prints every other network setting of the store as found.

Values absent from the configuration print as "unknown" (null in JSON); no
default is ever filled in. Keys the model does not interpret are listed in
the JSON (unknownKeys) and printed by --raw.

Output (one at a time; the default is the full text report):
  --json     the whole model as one JSON object
  --table    only the vmk table
  --dot      Graphviz digraph (pipe into: dot -Tsvg > layout.svg)
  --esxcli   a shell script of esxcli commands that recreates the layout on a
             fresh host, in an order that works
  --inspect  only the inspection report (add --json for JSON)
  --raw      the esx.conf lines the model does not interpret

Exit status 3 means esx.conf had lines that had to be skipped (see the output).

` + exitCodesHelp,
		Example: `  vmfsrecover netcfg /mnt/bootbank/state.tgz
  vmfsrecover netcfg --esxcli esxi-boot.vmdk > rebuild.sh
  vmfsrecover netcfg --json /dev/sdb | jq '.vmks[].ipv4Address.value'
  vmfsrecover netcfg --dot bootbank1.img | dot -Tsvg > layout.svg
  vmfsrecover netcfg --table ssh://root@esx1/bootbank`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetcfg(cmd.Context(), o, args, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.dot, "dot", false, "write the layout as a Graphviz digraph")
	f.BoolVar(&o.esxcli, "esxcli", false, "write an esxcli script that recreates the layout")
	f.BoolVar(&o.raw, "raw", false, "print the esx.conf keys the model does not interpret")
	f.BoolVar(&o.inspect, "inspect", false, "print only the inspection report")
	f.BoolVar(&o.table, "table", false, "print only the vmk table")
	f.IntVar(&o.part, "partition", 0, "on a boot disk, read the bootbank on this partition instead of the active one")
	return cmd
}

func runNetcfg(ctx context.Context, o *netcfgOptions, args []string, out io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{o.dot, o.esxcli, o.raw, o.inspect, o.table} {
		if set {
			n++
		}
	}
	if n > 1 {
		return withExitCode(exitUsage, fmt.Errorf("--dot, --esxcli, --raw, --inspect and --table exclude each other"))
	}
	if o.json && (o.dot || o.esxcli || o.raw || o.table) {
		return withExitCode(exitUsage, fmt.Errorf("--json combines only with --inspect"))
	}
	in, err := loadNetcfg(args[0], bootbank.Options{Partition: o.part})
	if err != nil {
		return err
	}
	h := netcfg.Build(in)
	switch {
	case o.dot:
		err = netcfg.WriteDOT(out, h)
	case o.esxcli:
		err = netcfg.WriteESXCLI(out, h)
	case o.raw:
		err = netcfg.WriteRaw(out, h)
	case o.table:
		err = netcfg.WriteTable(out, h)
	case o.inspect && o.json:
		err = netcfg.WriteFindingsJSON(out, h)
	case o.inspect:
		err = netcfg.WriteFindings(out, h)
	case o.json:
		err = netcfg.WriteJSON(out, h)
	default:
		err = netcfg.WriteText(out, h)
	}
	if err != nil {
		return err
	}
	skipped := 0
	for _, p := range h.Problems {
		if p.Skipped {
			skipped++
		}
	}
	if skipped > 0 || h.MoreProblems > 0 {
		return withExitCode(exitPartial, fmt.Errorf("%s: %d esx.conf lines skipped as malformed", args[0], skipped+h.MoreProblems))
	}
	return nil
}

// loadNetcfg loads the configuration from a SOURCE as the other commands
// take it: a local path, ssh://user@host/path (the same things on that
// host, read over SFTP, such as /bootbank of a host that still answers),
// or nbd://host/export (a whole boot disk).
func loadNetcfg(spec string, opt bootbank.Options) (*netcfg.Input, error) {
	loc, err := disk.LocateOrOpen(spec, disk.Options{})
	if err != nil {
		return nil, err
	}
	defer loc.Close()
	return bootbank.LoadFrom(loc, opt)
}

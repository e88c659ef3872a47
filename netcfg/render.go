package netcfg

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
)

// UplinkRole tells how a vSwitch uses one of its uplinks under teaming t:
// "active", "standby", "unused", or "listed" when maxActive is unknown and
// the split between active and standby cannot be told. The rule (the first
// maxActive entries of the order are active, the rest standby, members
// absent from the order unused) is the research notes' inference [I].
func UplinkRole(t *Teaming, uplink string) string {
	if t == nil || len(t.Order) == 0 {
		return "unknown"
	}
	for i, o := range t.Order {
		if o.V != uplink {
			continue
		}
		n, err := atoi(t.MaxActive)
		if err != nil {
			return "listed"
		}
		if i < n {
			return "active"
		}
		return "standby"
	}
	return "unused"
}

func atoi(v Value) (int, error) {
	if !v.Known() {
		return 0, fmt.Errorf("unknown")
	}
	var n int
	_, err := fmt.Sscanf(v.V, "%d", &n)
	return n, err
}

// WriteJSON writes the whole model as one indented JSON object.
func WriteJSON(w io.Writer, h *Host) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(h)
}

// WriteFindings writes the inspection report alone.
func WriteFindings(w io.Writer, h *Host) error {
	ew := &textout.ErrWriter{W: w}
	if len(h.Findings) == 0 {
		ew.Printf("no findings\n")
	}
	for _, f := range h.Findings {
		ew.Printf("%-7s %-28s %s: %s\n", f.Severity, f.Check, f.Subject, f.Message)
	}
	return ew.Err
}

// WriteFindingsJSON writes the inspection report as a JSON array.
func WriteFindingsJSON(w io.Writer, h *Host) error {
	f := h.Findings
	if f == nil {
		f = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// WriteRaw writes the esx.conf lines the model does not interpret, as
// found, then the ConfigStore network rows, each as a comment line naming
// its address and column followed by its JSON value.
func WriteRaw(w io.Writer, h *Host) error {
	ew := &textout.ErrWriter{W: w}
	for _, e := range h.Unknown {
		ew.Printf("%s = \"%s\"\n", e.Key, e.Value)
	}
	for _, r := range h.ConfigStore {
		ew.Printf("# ConfigStore %s (%s)\n%s\n", r.Address, r.Column, r.Value)
		if r.Desired != "" {
			ew.Printf("# ConfigStore %s (DesiredValue)\n%s\n", r.Address, r.Desired)
		}
	}
	return ew.Err
}

func ipv4(v *VMK) string {
	switch {
	case v.DHCP.V == "true":
		return "DHCP"
	case v.IPv4Address.Known():
		return v.IPv4Address.V
	}
	return "unknown"
}

func services(v *VMK) string {
	if len(v.Services) == 0 {
		return "-"
	}
	return strings.Join(v.ServiceTags(), ",")
}

func vlan(x *index, v *VMK) string {
	if g := x.pg[[2]string{v.VSwitch.V, v.PortGroup.V}]; g != nil && v.VSwitch.Known() {
		return g.VLAN.String()
	}
	return "unknown"
}

// WriteTable writes the vmk table: the view an administrator rebuilds from.
func WriteTable(w io.Writer, h *Host) error {
	x := h.index()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VMK\tPORT GROUP / DVS PORT\tVSWITCH\tVLAN\tIPV4\tNETMASK\tIPV6\tMTU\tSTACK\tENABLED\tMAC\tSERVICES")
	for _, v := range h.VMKs {
		pg := v.PortGroup.String()
		if !v.PortGroup.Known() && (v.DVSName.Known() || v.DVSID.Known()) {
			pg = "dvs " + dvsLabel(v) + " port " + v.DVPort.String()
		}
		v6 := "-"
		if v.DHCPv6.V == "true" {
			v6 = "DHCPv6"
		}
		var addrs []string
		for _, a := range v.IPv6 {
			addrs = append(addrs, a.V)
		}
		if len(addrs) > 0 {
			v6 = strings.Join(addrs, ",")
		}
		mask := v.IPv4Netmask.String()
		if v.DHCP.V == "true" {
			mask = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, pg, v.VSwitch, vlan(x, v), ipv4(v), mask,
			v6, v.MTU, v.Netstack, v.Enabled, v.MAC, services(v))
	}
	return tw.Flush()
}

func dvsLabel(v *VMK) string {
	if v.DVSName.Known() {
		return v.DVSName.V
	}
	return v.DVSID.V
}

// WriteText writes the human report: summary, vmk table, layout diagram,
// physical NICs, routes, storage, inspection and notes.
func WriteText(w io.Writer, h *Host) error {
	ew := &textout.ErrWriter{W: w}
	p := ew.Printf
	p("Host:        %s\n", h.Hostname)
	p("Version:     %s\n", h.Version)
	p("UUID:        %s\n", h.UUID)
	p("Management:  %s on %s\n", h.ManagementAddr, h.ManagementIface)
	p("DNS servers: %s\n", joinValues(h.DNSServers))
	p("DNS search:  %s\n", joinValues(h.DNSSearch))
	p("Source:      %s\n", h.Origin)
	p("\nVMkernel ports\n")
	if len(h.VMKs) == 0 {
		p("  (none found)\n")
	} else if ew.Err == nil {
		ew.Err = WriteTable(w, h)
	}
	p("\nLayout\n")
	writeDiagram(ew, h)
	if len(h.PNICs) > 0 {
		p("\nPhysical NICs\n")
		for _, n := range h.PNICs {
			p("  %-8s mac %s  pci %s\n", n.Name, n.MAC, n.PCI)
		}
	}
	if len(h.Routes) > 0 {
		p("\nRoutes\n")
		for _, r := range h.Routes {
			p("  %-18s via %-15s stack %s  (%s)\n", r.Network, r.Gateway, r.Netstack, r.From)
		}
	}
	if len(h.NFS) > 0 || len(h.ISCSI) > 0 {
		p("\nIP storage\n")
		for _, m := range h.NFS {
			vmk := m.VMK
			if vmk == "" {
				vmk = "none"
			}
			p("  NFS %s: %s:%s  vmk %s (%s)\n", m.Label, m.Host, m.Share, vmk, m.Via)
		}
		for _, b := range h.ISCSI {
			p("  iSCSI port binding: %s on adapter %s\n", b.VMK, b.Adapter)
		}
	}
	extra := false
	for _, v := range h.VMKs {
		if len(v.Extra) == 0 {
			continue
		}
		if !extra {
			p("\nVMK settings the model does not map (as found)\n")
			extra = true
		}
		keys := make([]string, 0, len(v.Extra))
		for k := range v.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("  %-6s %s = %q\n", v.Name, k, v.Extra[k])
		}
	}
	p("\nInspection\n")
	if len(h.Findings) == 0 {
		p("  no findings\n")
	}
	for _, f := range h.Findings {
		p("  %-7s %-28s %s: %s\n", f.Severity, f.Check, f.Subject, f.Message)
	}
	if len(h.Notes) > 0 {
		p("\nNotes\n")
		for _, n := range h.Notes {
			p("  - %s\n", n)
		}
	}
	if len(h.Problems) > 0 {
		p("\nesx.conf problems\n")
		for _, pr := range h.Problems {
			p("  line %d (byte %d): %s\n", pr.Line, pr.Offset, pr.Error)
		}
	}
	p("\n%d esx.conf keys not interpreted and %d ConfigStore rows kept as found (print them with --raw)\n", len(h.Unknown), len(h.ConfigStore))
	return ew.Err
}

func writeDiagram(ew *textout.ErrWriter, h *Host) {
	p := ew.Printf
	x := h.index()
	placed := map[*VMK]bool{}
	placedPG := map[[2]string]bool{}
	for _, s := range h.VSwitches {
		var ups []string
		for _, u := range s.Uplinks {
			ups = append(ups, u.V+" ("+UplinkRole(s.Teaming, u.V)+")")
		}
		if len(ups) == 0 {
			ups = []string{"none"}
		}
		policy := "unknown"
		if s.Teaming != nil {
			policy = s.Teaming.Policy.String()
		}
		p("%s  mtu %s  teaming %s  uplinks: %s\n", s.Name, s.MTU, policy, strings.Join(ups, ", "))
		for i, g := range s.PortGroups {
			branch, stem := "├─", "│ "
			if i == len(s.PortGroups)-1 {
				branch, stem = "└─", "  "
			}
			override := ""
			if g.Teaming != nil {
				var order []string
				for _, o := range g.Teaming.Order {
					order = append(order, o.V)
				}
				override = "  failover override: " + strings.Join(order, ",")
			}
			p("%s %s  vlan %s%s\n", branch, g.Name, g.VLAN, override)
			vmks := x.vmksAt[[2]string{s.Name.V, g.Name.V}]
			if placedPG[[2]string{s.Name.V, g.Name.V}] {
				vmks = nil // a duplicate port-group name: its vmks are drawn once
			}
			placedPG[[2]string{s.Name.V, g.Name.V}] = true
			for j, v := range vmks {
				placed[v] = true
				leaf := "├─"
				if j == len(vmks)-1 {
					leaf = "└─"
				}
				p("%s %s %s %s  %s\n", stem, leaf, v.Name, addrLabel(v), services(v))
			}
		}
	}
	var rest []*VMK
	for _, v := range h.VMKs {
		if !placed[v] {
			rest = append(rest, v)
		}
	}
	if len(rest) > 0 {
		p("not on a standard vSwitch:\n")
		for _, v := range rest {
			where := "port group " + v.PortGroup.String()
			if v.DVSName.Known() || v.DVSID.Known() {
				where = "dvs " + dvsLabel(v) + " port " + v.DVPort.String()
			}
			p("   %s %s  %s  %s\n", v.Name, addrLabel(v), where, services(v))
		}
	}
	if len(h.VSwitches) == 0 && len(rest) == 0 {
		p("  (no vSwitch or vmk found)\n")
	}
}

func addrLabel(v *VMK) string {
	if p, ok := v.Prefix(); ok {
		return fmt.Sprintf("%s/%d", v.IPv4Address.V, p.Bits())
	}
	return ipv4(v)
}

func joinValues(vs []Value) string {
	if len(vs) == 0 {
		return "unknown"
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.V
	}
	return strings.Join(out, ", ")
}

// WriteDOT writes the layout as a Graphviz digraph: pnic -> vSwitch ->
// port group -> vmk, plus vmks on distributed switches.
func WriteDOT(w io.Writer, h *Host) error {
	ew := &textout.ErrWriter{W: w}
	p := ew.Printf
	name := h.Hostname.V
	if !h.Hostname.Known() {
		name = "esxi"
	}
	p("digraph %s {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n", dotQuote(name))
	for _, n := range h.PNICs {
		p("  %s [shape=box, style=filled, fillcolor=lightgrey, label=%s];\n", dotQuote("pnic:"+n.Name.V), dotQuote(n.Name.V+"\n"+n.MAC.String()))
	}
	for _, s := range h.VSwitches {
		sid := "vs:" + s.Name.V
		p("  %s [shape=box3d, label=%s];\n", dotQuote(sid), dotQuote(s.Name.V+"\nmtu "+s.MTU.String()))
		for _, u := range s.Uplinks {
			p("  %s -> %s [label=%s];\n", dotQuote("pnic:"+u.V), dotQuote(sid), dotQuote(UplinkRole(s.Teaming, u.V)))
		}
		for _, g := range s.PortGroups {
			gid := "pg:" + s.Name.V + "/" + g.Name.V
			p("  %s [shape=folder, label=%s];\n", dotQuote(gid), dotQuote(g.Name.V+"\nvlan "+g.VLAN.String()))
			p("  %s -> %s;\n", dotQuote(sid), dotQuote(gid))
		}
	}
	for _, v := range h.VMKs {
		vid := "vmk:" + v.Name.V
		p("  %s [shape=ellipse, label=%s];\n", dotQuote(vid), dotQuote(v.Name.V+"\n"+addrLabel(v)+"\n"+services(v)+"\nstack "+v.Netstack.String()))
		switch {
		case v.VSwitch.Known():
			p("  %s -> %s;\n", dotQuote("pg:"+v.VSwitch.V+"/"+v.PortGroup.V), dotQuote(vid))
		case v.DVSName.Known() || v.DVSID.Known():
			did := "dvs:" + dvsLabel(v)
			p("  %s [shape=box3d, style=dashed, label=%s];\n", dotQuote(did), dotQuote("dvs "+dvsLabel(v)))
			p("  %s -> %s [label=%s];\n", dotQuote(did), dotQuote(vid), dotQuote("port "+v.DVPort.String()))
		}
	}
	p("}\n")
	return ew.Err
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

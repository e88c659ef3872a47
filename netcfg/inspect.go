package netcfg

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Inspect checks a layout for the mistakes that bite after a rebuild. It
// reports only what the recovered values show; a check whose inputs are
// unknown is skipped, never guessed.
func Inspect(h *Host) []Finding {
	var out []Finding
	add := func(check, sev, subj, format string, args ...any) {
		out = append(out, Finding{Check: check, Severity: sev, Subject: subj, Message: fmt.Sprintf(format, args...)})
	}

	x := h.index()
	mgmt := 0
	for _, v := range h.VMKs {
		name := v.Name.String()
		if v.HasService("Management") {
			mgmt++
		}
		if len(v.Services) > 1 {
			add("shared-services", "info", name, "carries %d services on one vmk: %s", len(v.Services), strings.Join(v.ServiceTags(), ", "))
			if v.HasService("faultToleranceLogging") {
				add("ft-not-dedicated", "warning", name, "fault-tolerance logging shares its vmk with %s; FT logging wants a vmk of its own",
					strings.Join(without(v.ServiceTags(), "faultToleranceLogging"), ", "))
			}
		}
		if v.HasService("faultToleranceLogging") && v.PortGroup.Known() && v.VSwitch.Known() {
			var others []string
			for _, o := range x.vmksAt[[2]string{v.VSwitch.V, v.PortGroup.V}] {
				if o != v {
					others = append(others, o.Name.String())
				}
			}
			if len(others) > 0 {
				add("ft-not-dedicated", "warning", name, "fault-tolerance logging shares port group %q with %s", v.PortGroup.V, strings.Join(others, ", "))
			}
		}
		if v.HasService("Management") && v.HasService("VMotion") {
			add("vmotion-on-management", "warning", name, "vMotion runs on the management vmk")
		}
		if sw := x.sw[v.VSwitch.V]; sw != nil && v.VSwitch.Known() && v.MTU.Known() && sw.MTU.Known() {
			vm, err1 := strconv.Atoi(v.MTU.V)
			sm, err2 := strconv.Atoi(sw.MTU.V)
			if err1 == nil && err2 == nil && vm > sm {
				add("mtu-above-switch", "warning", name, "MTU %d is above the MTU %d of %s: larger frames are dropped", vm, sm, sw.Name.V)
			}
		}
		if v.OnlyNamed {
			add("vmk-only-named", "warning", name, "known only from %s: its port group, addresses and MTU were not recovered; set them by hand", v.Name.From)
		}
		for _, rel := range v.ExtraKeys() {
			add("unmapped-setting", "warning", name, "setting %s/%s = %q was not mapped to the model: check it by hand on the new host", v.Key, rel, v.Extra[rel])
		}
		for _, sv := range v.Services {
			if _, ok := lookupService(sv.Tag); !ok {
				add("unmapped-setting", "warning", name, "service tag %q (%s) is not one esxcli is known to take: check it by hand", sv.Tag, sv.From)
			}
		}
		if v.PortGroup.Known() && !v.VSwitch.Known() && !v.DVSID.Known() && !v.DVSName.Known() {
			add("portgroup-not-found", "warning", name, "port group %q is on no standard vSwitch in esx.conf (a distributed or NSX port?)", v.PortGroup.V)
		}
	}
	if mgmt == 0 && len(h.VMKs) > 0 {
		add("no-management", "warning", "host", "no vmk carries the Management service")
	}
	if len(h.VMKs) == 0 {
		add("no-management", "warning", "host", "no vmk found, so no management vmk")
	}

	// Two vmks in one subnet on one stack: the stack routes by its first match.
	type subnetKey struct {
		pfx   netip.Prefix
		stack Value
	}
	groups := map[subnetKey][]*VMK{}
	var order []subnetKey
	for _, v := range h.VMKs {
		p, ok := v.Prefix()
		if !ok {
			continue
		}
		k := subnetKey{p, Value{V: v.Netstack.V, From: map[bool]string{true: "known"}[v.Netstack.Known()]}}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], v)
	}
	for _, k := range order {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		names := make([]string, len(g))
		for i, v := range g {
			names[i] = v.Name.String()
		}
		stack := k.stack.V
		if !k.stack.Known() {
			stack = "unknown"
		}
		add("same-subnet", "warning", strings.Join(names, ","),
			"%s share subnet %s on netstack %s: outgoing traffic leaves by only one of them", strings.Join(names, " and "), k.pfx, stack)
	}

	// A vmk whose subnet does not hold its stack's gateway: traffic to the
	// gateway itself is routed, which usually means a wrong mask or gateway.
	for _, n := range h.Netstacks {
		if !n.Gateway.Known() {
			continue
		}
		gw, err := netip.ParseAddr(n.Gateway.V)
		if err != nil {
			continue
		}
		for _, v := range h.VMKs {
			if v.Netstack.String() != n.Name && !(n.Name == "defaultTcpipStack" && !v.Netstack.Known()) {
				continue
			}
			if p, ok := v.Prefix(); ok && !p.Contains(gw) {
				add("gateway-outside-subnet", "info", v.Name.String(), "subnet %s does not contain the %s gateway %s: its traffic to other networks is routed through another vmk", p, n.Name, gw)
			}
		}
	}

	check := func(subj string, members []Value, t *Teaming) {
		if t == nil || len(t.Order) == 0 {
			return
		}
		in := map[string]bool{}
		for _, o := range t.Order {
			in[o.V] = true
		}
		for _, u := range members {
			if !in[u.V] {
				add("uplink-not-in-failover-order", "warning", subj, "uplink %s is attached but missing from the failover order, so it is unused", u.V)
			}
		}
	}
	for _, s := range h.VSwitches {
		check(s.Name.String(), s.Uplinks, s.Teaming)
		for _, g := range s.PortGroups {
			check(s.Name.String()+"/"+g.Name.String(), s.Uplinks, g.Teaming)
		}
	}
	return out
}

func (h *Host) vswitch(name string) *VSwitch {
	for _, s := range h.VSwitches {
		if s.Name.V == name && s.Name.Known() {
			return s
		}
	}
	return nil
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

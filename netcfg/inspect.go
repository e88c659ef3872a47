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
	var f inspection
	x := h.index()
	for _, v := range h.VMKs {
		f.vmk(x, v)
	}
	f.management(h)
	f.sharedSubnets(h)
	f.gatewaysOutside(h)
	f.failoverOrder(h)
	return f
}

// inspection collects what Inspect's checks report.
type inspection []Finding

func (f *inspection) add(check, sev, subj, format string, args ...any) {
	*f = append(*f, Finding{Check: check, Severity: sev, Subject: subj, Message: fmt.Sprintf(format, args...)})
}

// vmk checks one vmk: its services, its port group and MTU, and what of
// it the model could not map.
func (f *inspection) vmk(x *index, v *VMK) {
	name := v.Name.String()
	if len(v.Services) > 1 {
		f.add("shared-services", "info", name, "carries %d services on one vmk: %s", len(v.Services), strings.Join(v.ServiceTags(), ", "))
		if v.HasService("faultToleranceLogging") {
			f.add("ft-not-dedicated", "warning", name, "fault-tolerance logging shares its vmk with %s; FT logging wants a vmk of its own",
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
			f.add("ft-not-dedicated", "warning", name, "fault-tolerance logging shares port group %q with %s", v.PortGroup.V, strings.Join(others, ", "))
		}
	}
	if v.HasService("Management") && v.HasService("VMotion") {
		f.add("vmotion-on-management", "warning", name, "vMotion runs on the management vmk")
	}
	if sw := x.sw[v.VSwitch.V]; sw != nil && v.VSwitch.Known() && v.MTU.Known() && sw.MTU.Known() {
		vm, err1 := strconv.Atoi(v.MTU.V)
		sm, err2 := strconv.Atoi(sw.MTU.V)
		if err1 == nil && err2 == nil && vm > sm {
			f.add("mtu-above-switch", "warning", name, "MTU %d is above the MTU %d of %s: larger frames are dropped", vm, sm, sw.Name.V)
		}
	}
	if v.OnlyNamed {
		f.add("vmk-only-named", "warning", name, "known only from %s: its port group, addresses and MTU were not recovered; set them by hand", v.Name.From)
	}
	for _, rel := range v.ExtraKeys() {
		f.add("unmapped-setting", "warning", name, "setting %s/%s = %q was not mapped to the model: check it by hand on the new host", v.Key, rel, v.Extra[rel])
	}
	for _, sv := range v.Services {
		if _, ok := lookupService(sv.Tag); !ok {
			f.add("unmapped-setting", "warning", name, "service tag %q (%s) is not one esxcli is known to take: check it by hand", sv.Tag, sv.From)
		}
	}
	if v.PortGroup.Known() && !v.VSwitch.Known() && !v.DVSID.Known() && !v.DVSName.Known() {
		f.add("portgroup-not-found", "warning", name, "port group %q is on no standard vSwitch in esx.conf (a distributed or NSX port?)", v.PortGroup.V)
	}
}

// management: some vmk must carry the Management service.
func (f *inspection) management(h *Host) {
	if len(h.VMKs) == 0 {
		f.add("no-management", "warning", "host", "no vmk found, so no management vmk")
		return
	}
	for _, v := range h.VMKs {
		if v.HasService("Management") {
			return
		}
	}
	f.add("no-management", "warning", "host", "no vmk carries the Management service")
}

// sharedSubnets: two vmks in one subnet on one stack; the stack routes by
// its first match.
func (f *inspection) sharedSubnets(h *Host) {
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
		f.add("same-subnet", "warning", strings.Join(names, ","),
			"%s share subnet %s on netstack %s: outgoing traffic leaves by only one of them", strings.Join(names, " and "), k.pfx, stack)
	}
}

// gatewaysOutside: a vmk whose subnet does not hold its stack's gateway;
// traffic to the gateway itself is routed, which usually means a wrong
// mask or gateway.
func (f *inspection) gatewaysOutside(h *Host) {
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
				f.add("gateway-outside-subnet", "info", v.Name.String(), "subnet %s does not contain the %s gateway %s: its traffic to other networks is routed through another vmk", p, n.Name, gw)
			}
		}
	}
}

// failoverOrder: an uplink attached to a vSwitch but missing from a
// failover order it is subject to is unused.
func (f *inspection) failoverOrder(h *Host) {
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
				f.add("uplink-not-in-failover-order", "warning", subj, "uplink %s is attached but missing from the failover order, so it is unused", u.V)
			}
		}
	}
	for _, s := range h.VSwitches {
		check(s.Name.String(), s.Uplinks, s.Teaming)
		for _, g := range s.PortGroups {
			check(s.Name.String()+"/"+g.Name.String(), s.Uplinks, g.Teaming)
		}
	}
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

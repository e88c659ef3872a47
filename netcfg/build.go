package netcfg

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/netcfg/esxconf"
)

// Input is the recovered configuration of one host: esx.conf and the plain
// files that local.tgz carries beside it. Nil fields were not found.
type Input struct {
	Origin          string        // human description of where the files came from
	EsxConf         *esxconf.File // nil when no esx.conf was found
	Hosts           []byte        // etc/hosts
	ResolvConf      []byte        // etc/resolv.conf
	LocalSh         []byte        // etc/rc.local.d/local.sh
	ConfigStore     string        // path of the ConfigStore database in the archive, if present
	ConfigStoreData []byte        // its content
	BootBuild       string        // build= of the chosen bootbank's boot.cfg
	Notes           []string      // what the source layer did (bank chosen, decryption)
}

// Candidate vmknic leaves. The research notes mark every one of these key
// names UNCERTAIN: no public esx.conf shows them. They are listed here, as
// data, so that the first real file settles them with a one-line change;
// every value taken from one names its key in Value.From.
var vmkCandidates = map[string]string{
	"mtu":         "mtu",
	"enable":      "enabled",
	"enabled":     "enabled",
	"netstackKey": "netstack",
	"netstack":    "netstack",
	"dvsName":     "dvsName",
	"dvsId":       "dvsId", // the 6.x installer matches DVS by dvsId
	"dvsUuid":     "dvsId",
	"dvportId":    "dvPort",
	"dvsPortId":   "dvPort",
	"type":        "type",
}

type builder struct {
	f       *esxconf.File
	used    map[string]bool
	h       *Host
	byName  map[string]*VMK
	byNameN int // len(h.VMKs) when byName was built
}

func (b *builder) get(key string) Value {
	if b.f == nil {
		return Value{}
	}
	v, ok := b.f.Get(key)
	if !ok {
		return Value{}
	}
	b.used[key] = true
	return Value{V: v, From: key}
}

// Build assembles the host model from the recovered files. It never fails:
// what is missing stays unknown and is explained in Host.Notes.
func Build(in *Input) *Host {
	h := &Host{Origin: in.Origin, Notes: append([]string(nil), in.Notes...)}
	b := &builder{f: in.EsxConf, used: map[string]bool{}, h: h}
	if in.EsxConf == nil {
		h.Notes = append(h.Notes, "no esx.conf found")
	} else {
		for _, p := range in.EsxConf.Problems {
			h.Problems = append(h.Problems, Problem{Line: p.Line, Offset: p.Offset, Error: p.Err.Error(), Text: p.Text, Skipped: p.Skipped})
		}
		h.MoreProblems = in.EsxConf.MoreProblems
		if n := in.EsxConf.MoreProblems; n > 0 {
			h.Notes = append(h.Notes, fmt.Sprintf("esx.conf has %d more bad lines than the %d listed", n, esxconf.MaxProblems))
		}
	}
	h.Version = b.get("/resourceGroups/version")
	if !h.Version.Known() && in.BootBuild != "" {
		h.Version = Value{V: in.BootBuild, From: "boot.cfg build="}
	}
	h.UUID = b.get("/system/uuid")
	h.Hostname = b.get("/adv/Misc/HostName")
	h.ManagementAddr = b.get("/adv/Net/ManagementAddr")
	if ip := b.get("/adv/Misc/HostIPAddr"); !h.ManagementAddr.Known() {
		h.ManagementAddr = ip
	}
	h.ManagementIface = b.get("/adv/Net/ManagementIface")

	b.pnics()
	b.vswitches()
	b.vmks()
	b.configStore(in)
	b.services()
	b.routes(in.LocalSh)
	b.netstacks()
	b.nfs()
	b.resolv(in.ResolvConf)
	b.hosts(in.Hosts)
	b.versionNotes(in)

	if in.EsxConf != nil {
		for _, e := range in.EsxConf.Entries {
			if !b.used[e.Key] {
				h.Unknown = append(h.Unknown, e)
			}
		}
		sort.Slice(h.Unknown, func(i, j int) bool { return h.Unknown[i].Key < h.Unknown[j].Key })
	}
	h.Findings = Inspect(h)
	normalize(h)
	return h
}

// normalize turns nil lists into empty ones, so that JSON says [] (none
// found) for lists and keeps null for unknown values only.
func normalize(h *Host) {
	nz := func(p *[]Value) {
		if *p == nil {
			*p = []Value{}
		}
	}
	nz(&h.DNSServers)
	nz(&h.DNSSearch)
	if h.VSwitches == nil {
		h.VSwitches = []*VSwitch{}
	}
	if h.PNICs == nil {
		h.PNICs = []*PNIC{}
	}
	if h.VMKs == nil {
		h.VMKs = []*VMK{}
	}
	if h.Netstacks == nil {
		h.Netstacks = []*Netstack{}
	}
	if h.Routes == nil {
		h.Routes = []*Route{}
	}
	if h.NFS == nil {
		h.NFS = []*NFSMount{}
	}
	if h.ISCSI == nil {
		h.ISCSI = []*ISCSIBinding{}
	}
	if h.Findings == nil {
		h.Findings = []Finding{}
	}
	if h.ConfigStore == nil {
		h.ConfigStore = []StoreRow{}
	}
	if h.Unknown == nil {
		h.Unknown = []esxconf.Entry{}
	}
	if h.Problems == nil {
		h.Problems = []Problem{}
	}
	team := func(t *Teaming) {
		if t != nil {
			nz(&t.Order)
		}
	}
	for _, s := range h.VSwitches {
		nz(&s.Uplinks)
		team(s.Teaming)
		if s.PortGroups == nil {
			s.PortGroups = []*PortGroup{}
		}
		for _, g := range s.PortGroups {
			team(g.Teaming)
		}
	}
	for _, v := range h.VMKs {
		nz(&v.IPv6)
		if v.Services == nil {
			v.Services = []Service{}
		}
	}
}

func (b *builder) pnics() {
	if b.f == nil {
		return
	}
	alias := map[string]Value{} // vmnic name -> PCI id
	for _, id := range b.f.Names("/vmkdevmgr/pci") {
		key := "/vmkdevmgr/pci/" + id + "/alias"
		if name, ok := b.f.Get(key); ok && strings.HasPrefix(name, "vmnic") {
			b.used[key] = true
			alias[name] = Value{V: id, From: key}
		}
	}
	for _, p := range b.f.Indexed("/net/pnic", "child") {
		n := &PNIC{Key: p, Name: b.get(p + "/name"), MAC: b.get(p + "/mac"), VirtualMAC: b.get(p + "/virtualMac")}
		n.PCI = alias[n.Name.V]
		delete(alias, n.Name.V)
		b.h.PNICs = append(b.h.PNICs, n)
	}
	// NICs known only through their PCI alias.
	var rest []string
	for name := range alias {
		rest = append(rest, name)
	}
	sort.Slice(rest, func(i, j int) bool { return nameLess(rest[i], rest[j]) })
	for _, name := range rest {
		b.h.PNICs = append(b.h.PNICs, &PNIC{Name: Value{V: name, From: alias[name].From}, PCI: alias[name]})
	}
	sort.SliceStable(b.h.PNICs, func(i, j int) bool { return nameLess(b.h.PNICs[i].Name.V, b.h.PNICs[j].Name.V) })
}

func (b *builder) teaming(p string, override bool) *Teaming {
	if override && len(b.f.Under(p+"/teamPolicy")) == 0 {
		return nil
	}
	t := &Teaming{
		Policy:             b.get(p + "/teamPolicy/team"),
		MaxActive:          b.get(p + "/teamPolicy/maxActive"),
		NotifySwitch:       b.get(p + "/teamPolicy/notifySwitch"),
		RollingRestoration: b.get(p + "/teamPolicy/rollingRestoration"),
		ReversePolicy:      b.get(p + "/teamPolicy/reversePolicy"),
		HasUplinkOrder:     b.get(p + "/teamPolicy/hasUplinkOrder"),
		Beacon:             b.get(p + "/teamPolicy/linkCriteria/beacon"),
	}
	for _, u := range b.f.Indexed(p+"/teamPolicy", "uplinks") {
		if v := b.get(u + "/pnic"); v.Known() {
			t.Order = append(t.Order, v)
		}
	}
	// Leaves of linkCriteria besides beacon are defaults no rebuild needs;
	// they stay visible in --raw.
	return t
}

func (b *builder) security(p string, override bool) *Security {
	if override && len(b.f.Under(p+"/securityPolicy")) == 0 {
		return nil
	}
	return &Security{
		Promiscuous: b.get(p + "/securityPolicy/promiscuous"),
		MacChange:   b.get(p + "/securityPolicy/macChange"),
		ForgedTx:    b.get(p + "/securityPolicy/forgedTx"),
	}
}

func (b *builder) vswitches() {
	if b.f == nil {
		return
	}
	for _, p := range b.f.Indexed("/net/vswitch", "child") {
		s := &VSwitch{
			Key: p, Name: b.get(p + "/name"), NumPorts: b.get(p + "/numPorts"), MTU: b.get(p + "/mtu"),
			CDP: b.get(p + "/cdp/status"), Shaping: b.get(p + "/shapingPolicy/enabled"),
		}
		for _, u := range b.f.Indexed(p+"/uplinks", "child") {
			if v := b.get(u + "/pnic"); v.Known() {
				s.Uplinks = append(s.Uplinks, v)
			}
		}
		s.Teaming = b.teaming(p, false)
		s.Security = b.security(p, false)
		for _, g := range b.f.Indexed(p+"/portgroup", "child") {
			pg := &PortGroup{Key: g, Name: b.get(g + "/name"), VLAN: b.get(g + "/vlanId"), VSwitch: s.Name.V}
			pg.Teaming = b.teaming(g, true)
			pg.Security = b.security(g, true)
			s.PortGroups = append(s.PortGroups, pg)
		}
		b.h.VSwitches = append(b.h.VSwitches, s)
	}
}

func (b *builder) vmks() {
	if b.f == nil {
		return
	}
	// Port-group names are unique on a host; the first one wins if not.
	pgs := map[string]*PortGroup{}
	for _, s := range b.h.VSwitches {
		for _, g := range s.PortGroups {
			if _, dup := pgs[g.Name.V]; !dup && g.Name.Known() && s.Name.Known() {
				pgs[g.Name.V] = g
			}
		}
	}
	for _, p := range b.f.Indexed("/net/vmkernelnic", "child") {
		v := &VMK{
			Key: p, Name: b.get(p + "/name"), PortGroup: b.get(p + "/portgroup"), MAC: b.get(p + "/mac"),
			DHCP: b.get(p + "/dhcp"), IPv4Address: b.get(p + "/ipv4address"), IPv4Netmask: b.get(p + "/ipv4netmask"),
			PeerDNS: b.get(p + "/dhcpDns"), DHCPv6: b.get(p + "/dhcpv6"), Extra: map[string]string{},
		}
		for _, e := range b.f.Under(p) {
			if b.used[e.Key] {
				continue
			}
			rel := e.Key[len(p)+1:]
			field, ok := vmkCandidates[rel]
			if !ok {
				v.Extra[rel] = e.Value
				b.used[e.Key] = true
				continue
			}
			val := b.get(e.Key)
			switch field {
			case "mtu":
				v.MTU = val
			case "enabled":
				v.Enabled = val
			case "netstack":
				v.Netstack = val
			case "dvsName":
				v.DVSName = val
			case "dvsId":
				v.DVSID = val
			case "dvPort":
				v.DVPort = val
			case "type":
				v.Type = val
			}
		}
		if g, ok := pgs[v.PortGroup.V]; ok && v.PortGroup.Known() {
			v.VSwitch = Value{V: g.VSwitch, From: g.Name.From}
		}
		if strings.EqualFold(v.Type.V, "ISCSI") {
			b.h.ISCSI = append(b.h.ISCSI, &ISCSIBinding{VMK: v.Name.V, From: v.Type.From})
		}
		b.h.VMKs = append(b.h.VMKs, v)
	}
	sort.SliceStable(b.h.VMKs, func(i, j int) bool { return nameLess(b.h.VMKs[i].Name.V, b.h.VMKs[j].Name.V) })
}

func (b *builder) vmk(name string) *VMK {
	if b.byName == nil || b.byNameN != len(b.h.VMKs) {
		b.byName = map[string]*VMK{}
		b.byNameN = len(b.h.VMKs)
		for _, v := range b.h.VMKs {
			if _, dup := b.byName[v.Name.V]; !dup && v.Name.Known() {
				b.byName[v.Name.V] = v
			}
		}
	}
	return b.byName[name]
}

// vmkNamedBy returns the vmk that a key such as /adv/Net/ManagementIface
// names. A vmk that only such a key knows (its vmknic entry is gone, or the
// host kept vmknics in a ConfigStore that was not recovered) is still a vmk
// of the host: it joins the model with its name and the services the keys
// give it, every other setting unknown.
func (b *builder) vmkNamedBy(name Value) *VMK {
	if v := b.vmk(name.V); v != nil {
		return v
	}
	b.h.Notes = append(b.h.Notes, fmt.Sprintf("%s names %s, which has no vmknic entry: %s is listed with its port group, addresses and MTU unknown", name.From, name.V, name.V))
	v := &VMK{Key: name.From, Name: name, Extra: map[string]string{}, OnlyNamed: true}
	b.h.VMKs = append(b.h.VMKs, v)
	sort.SliceStable(b.h.VMKs, func(i, j int) bool { return nameLess(b.h.VMKs[i].Name.V, b.h.VMKs[j].Name.V) })
	return v
}

// services merges every documented source of service tags: the per-vmk
// candidate tag list, the vSAN subtree, the vmotion and vSphereProvisioning
// stacks, and the single-vmk advanced options of 4.x/5.0.
func (b *builder) services() {
	perVmkTags := false
	vmotionStack := false
	for _, v := range b.h.VMKs {
		switch v.Netstack.V {
		case "vmotion":
			vmotionStack = true
			v.addService("VMotion", "netstack vmotion ("+v.Netstack.From+")")
		case "vSphereProvisioning":
			v.addService("vSphereProvisioning", "netstack vSphereProvisioning ("+v.Netstack.From+")")
		}
		if tags, ok := v.Extra["tags"]; ok {
			// Candidate per-vmk tag list (UNCERTAIN key name).
			perVmkTags = true
			for _, t := range strings.FieldsFunc(tags, func(r rune) bool { return r == ',' || r == ' ' }) {
				v.addService(t, v.Key+"/tags")
			}
			delete(v.Extra, "tags")
		}
	}
	single := []struct{ key, tag string }{
		{"/adv/Net/ManagementIface", "Management"},
		{"/adv/Migrate/Vmknic", "VMotion"},
		{"/adv/FT/Vmknic", "faultToleranceLogging"},
	}
	for _, s := range single {
		val := b.get(s.key)
		if !val.Known() || val.V == "" {
			continue
		}
		v := b.vmkNamedBy(val)
		// /Migrate/Vmknic outlived the per-vmk tags of 5.1+ and goes stale:
		// ignore it when per-vmk tags or a vmotion stack say otherwise.
		if s.tag == "VMotion" && (perVmkTags || vmotionStack && v.Netstack.V != "vmotion") {
			b.h.Notes = append(b.h.Notes, fmt.Sprintf("%s = %q ignored as stale: the host uses %s", s.key, val.V,
				map[bool]string{true: "per-vmk service tags", false: "the vmotion netstack, which turns vMotion off on other stacks"}[perVmkTags]))
			continue
		}
		v.addService(s.tag, s.key)
	}
	if b.f != nil {
		for _, p := range b.f.Indexed("/vsan/network", "child") {
			nic := b.get(p + "/vmknic")
			if !nic.Known() || nic.V == "" {
				continue
			}
			v := b.vmkNamedBy(nic)
			vsan, witness := b.get(p+"/vsanTraffic"), b.get(p+"/witnessTraffic")
			if vsan.V == "true" {
				v.addService("VSAN", vsan.From)
			}
			if witness.V == "true" {
				v.addService("VSANWitness", witness.From)
			}
			if !vsan.Known() && !witness.Known() {
				v.addService("VSAN", nic.From+" (no traffic flags: vSAN traffic, as `vsan network ip add` without --traffic-type)")
			}
		}
	}
}

func (b *builder) routes(localSh []byte) {
	if gw := b.get("/net/routes/kernel/gateway"); gw.Known() && gw.V != "" {
		b.h.Routes = append(b.h.Routes, &Route{
			Netstack: Value{V: "defaultTcpipStack", From: "implied by /net/routes/kernel/gateway"},
			Network:  "default", Gateway: gw.V, From: gw.From,
		})
	}
	if localSh != nil {
		b.h.Routes = append(b.h.Routes, parseLocalShRoutes(localSh)...)
	}
}

// parseLocalShRoutes reads esxcfg-route and esxcli route commands from
// /etc/rc.local.d/local.sh, where pre-5.1 hosts had to keep static routes.
func parseLocalShRoutes(data []byte) []*Route {
	var out []*Route
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		from := fmt.Sprintf("etc/rc.local.d/local.sh line %d", n)
		for i, w := range f {
			base := w[strings.LastIndexByte(w, '/')+1:]
			switch {
			case base == "esxcfg-route":
				if r := esxcfgRoute(f[i+1:]); r != nil {
					r.From = from
					out = append(out, r)
				}
			case base == "esxcli" && i+5 < len(f) && f[i+1] == "network" && f[i+2] == "ip" && f[i+3] == "route" && f[i+4] == "ipv4" && f[i+5] == "add":
				if r := esxcliRoute(f[i+6:]); r != nil {
					r.From = from
					out = append(out, r)
				}
			default:
				continue
			}
			break
		}
	}
	return out
}

func esxcfgRoute(args []string) *Route {
	r := &Route{}
	var pos []string
	add := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-a" || a == "--add":
			add = true
		case (a == "-N" || a == "--netstack") && i+1 < len(args):
			r.Netstack = Value{V: args[i+1], From: "esxcfg-route -N"}
			i++
		case strings.HasPrefix(a, "-"):
		case a == ";" || a == "&&" || a == "||":
			i = len(args)
		default:
			pos = append(pos, a)
		}
	}
	if !add {
		return nil
	}
	switch len(pos) {
	case 2: // default GW, or net/len GW
		r.Network, r.Gateway = pos[0], pos[1]
	case 3: // net mask GW
		if p, err := maskBits(pos[1]); err == nil {
			r.Network, r.Gateway = pos[0]+"/"+strconv.Itoa(p), pos[2]
		} else {
			return nil
		}
	default:
		return nil
	}
	return r
}

func esxcliRoute(args []string) *Route {
	r := &Route{}
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		step := 0
		if !hasVal {
			step = 1
		}
		switch name {
		case "-n", "--network":
			r.Network = val
		case "-g", "--gateway":
			r.Gateway = val
		case "-N", "--netstack":
			r.Netstack = Value{V: val, From: "esxcli --netstack"}
		default:
			step = 0
		}
		i += step
	}
	if r.Network == "" || r.Gateway == "" {
		return nil
	}
	return r
}

func (b *builder) netstacks() {
	byName := map[string]*Netstack{}
	get := func(name string) *Netstack {
		if n, ok := byName[name]; ok {
			return n
		}
		n := &Netstack{Name: name}
		byName[name] = n
		b.h.Netstacks = append(b.h.Netstacks, n)
		return n
	}
	for _, v := range b.h.VMKs {
		n := get(v.Netstack.String())
		n.VMKs = append(n.VMKs, v.Name.String())
	}
	for _, r := range b.h.Routes {
		if r.Network == "default" {
			n := get(r.Netstack.String())
			n.Gateway = Value{V: r.Gateway, From: r.From}
		}
	}
	sort.Slice(b.h.Netstacks, func(i, j int) bool { return b.h.Netstacks[i].Name < b.h.Netstacks[j].Name })
}

func (b *builder) nfs() {
	if b.f == nil {
		return
	}
	// /nas/<label>/{host,share,readOnly}: key names UNCERTAIN (not in the notes).
	for _, label := range b.f.Names("/nas") {
		p := "/nas/" + label
		m := &NFSMount{Label: label, Host: b.get(p + "/host"), Share: b.get(p + "/share"), ReadOnly: b.get(p + "/readOnly")}
		m.VMK, m.Via = storageVMK(b.h, m.Host.V)
		b.h.NFS = append(b.h.NFS, m)
	}
}

// storageVMK finds the vmk that IP-storage traffic to host would leave by:
// a vmk on the default (or unrecorded) stack whose subnet holds the address.
func storageVMK(h *Host, host string) (string, string) {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", "target is not an IP address; the vmk depends on DNS resolution"
	}
	for _, v := range h.VMKs {
		if v.Netstack.Known() && v.Netstack.V != "defaultTcpipStack" {
			continue
		}
		if pfx, ok := v.Prefix(); ok && pfx.Contains(addr) {
			return v.Name.V, "same subnet as " + pfx.String()
		}
	}
	return "", "no vmk in the target's subnet: routed through the default gateway"
}

func (b *builder) resolv(data []byte) {
	if data == nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		from := fmt.Sprintf("etc/resolv.conf line %d", n)
		switch f[0] {
		case "nameserver":
			b.h.DNSServers = append(b.h.DNSServers, Value{V: f[1], From: from})
		case "search", "domain":
		next:
			for _, d := range f[1:] {
				for _, have := range b.h.DNSSearch {
					if have.V == d {
						continue next
					}
				}
				b.h.DNSSearch = append(b.h.DNSSearch, Value{V: d, From: from})
			}
		}
	}
}

func (b *builder) hosts(data []byte) {
	if data == nil || b.h.Hostname.Known() {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "127.") || f[0] == "::1" {
			continue
		}
		if b.h.ManagementAddr.Known() && f[0] != b.h.ManagementAddr.V {
			continue
		}
		b.h.Hostname = Value{V: f[1], From: fmt.Sprintf("etc/hosts line %d", n)}
		return
	}
}

func (b *builder) versionNotes(in *Input) {
	entries := 0
	for _, v := range b.h.VMKs {
		if !v.OnlyNamed {
			entries++
		}
	}
	if in.EsxConf != nil && entries == 0 && atLeast702(b.h.Version.V) && in.ConfigStoreData == nil {
		b.h.Notes = append(b.h.Notes, "ESXi "+b.h.Version.V+" keeps vmknics in the ConfigStore database, not in esx.conf: an esx.conf without /net/vmkernelnic is normal on 7.0 U2 and later. This source holds no ConfigStore; give netcfg the state.tgz, the bootbank or the boot disk instead")
	}
}

// atLeast702 reports whether an ESXi version string (6.7.0, 7.0.3,
// 7.0.2-0.0.17867351, 8.0.3) is 7.0.2 or later. Build-only strings are not.
func atLeast702(v string) bool {
	v, _, _ = strings.Cut(v, "-")
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return false
	}
	var n [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		x, err := strconv.Atoi(parts[i])
		if err != nil {
			return false
		}
		n[i] = x
	}
	return n[0] > 7 || n[0] == 7 && (n[1] > 0 || n[2] >= 2)
}

// nameLess orders names like vmk2 < vmk10 by their numeric suffix.
func nameLess(a, b string) bool {
	ap, an := splitNum(a)
	bp, bn := splitNum(b)
	if ap != bp {
		return ap < bp
	}
	if an != bn {
		return an < bn
	}
	return a < b
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}

// maskBits converts a dotted IPv4 netmask to a prefix length.
func maskBits(mask string) (int, error) {
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("netmask %q is not an IPv4 address", mask)
	}
	m := a.As4()
	bits := 0
	seenZero := false
	for _, by := range m {
		for i := 7; i >= 0; i-- {
			if by&(1<<i) != 0 {
				if seenZero {
					return 0, fmt.Errorf("netmask %q is not contiguous", mask)
				}
				bits++
			} else {
				seenZero = true
			}
		}
	}
	return bits, nil
}

// Prefix returns the vmk's static IPv4 subnet, when address and mask are known.
func (v *VMK) Prefix() (netip.Prefix, bool) {
	if !v.IPv4Address.Known() || !v.IPv4Netmask.Known() {
		return netip.Prefix{}, false
	}
	a, err := netip.ParseAddr(v.IPv4Address.V)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	bits, err := maskBits(v.IPv4Netmask.V)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

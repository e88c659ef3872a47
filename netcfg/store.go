package netcfg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/netcfg/configstore"
)

// StoreRow is a ConfigStore row the model shows as found: every row of
// esx/network, esx/advanced_options and the esx/storage NFS keys, whose
// layouts are not documented beyond the few fields the model maps.
type StoreRow struct {
	Address string `json:"address"` // component/group/name[identifier]
	Column  string `json:"column"`  // the value column used (UserValue, VitalValue, ...)
	Value   string `json:"value"`   // JSON text as stored
	Desired string `json:"desired,omitempty"`
}

// vmknic fields whose ConfigStore names the research notes confirm (from
// vLCM configuration documents, which use the store's names [S/I]).
var storeVmkFields = map[string]string{
	"device":              "name",
	"ip.ipv4_address":     "ipv4Address",
	"ip.ipv4_subnet_mask": "ipv4Netmask",
	"ip.dhcp":             "dhcp",
	"ip.dhcp_dns":         "peerDns",
	"ip.ipv6.dhcp":        "dhcpv6",
}

// configStore merges what the ConfigStore holds into the model.
func (b *builder) configStore(in *Input) {
	if in.ConfigStoreData == nil {
		if in.ConfigStore != "" {
			b.h.Notes = append(b.h.Notes, "ConfigStore database "+in.ConfigStore+" listed but empty")
		}
		return
	}
	s, err := configstore.Open(in.ConfigStoreData)
	if err != nil && s == nil {
		b.h.Notes = append(b.h.Notes, fmt.Sprintf("ConfigStore %s unreadable: %v", in.ConfigStore, err))
		return
	}
	if err != nil {
		b.h.Notes = append(b.h.Notes, fmt.Sprintf("ConfigStore %s partly readable: %v", in.ConfigStore, err))
	}
	groups := map[string]int{}
	for _, r := range s.Rows {
		nfs := r.Group == "storage" && strings.HasPrefix(r.Name, "nfs")
		if r.Component != "esx" || (r.Group != "network" && r.Group != "advanced_options" && !nfs) {
			continue
		}
		v, col := r.Effective()
		b.h.ConfigStore = append(b.h.ConfigStore, StoreRow{Address: r.Address(), Column: col, Value: v, Desired: r.Values["DesiredValue"]})
		if r.Group == "network" {
			groups[r.Name]++
		}
	}
	var names []string
	for n, c := range groups {
		names = append(names, fmt.Sprintf("%s (%d)", n, c))
	}
	sort.Strings(names)
	b.h.Notes = append(b.h.Notes, fmt.Sprintf("ConfigStore %s read: esx/network holds %s. Only the vmknic fields whose store names are confirmed are mapped (%s); the other fields, and the switch, port-group, netstack, route and DNS rows, are undocumented and shown as found (JSON configStore, --raw)",
		in.ConfigStore, orNone(strings.Join(names, ", ")), strings.Join(sortedKeys(storeVmkFields), ", ")))

	storeIdentity(b.h, s)
	for _, r := range s.Find("esx", "network", "vmknics") {
		b.storeVmknics(r)
	}
	sort.SliceStable(b.h.VMKs, func(i, j int) bool { return nameLess(b.h.VMKs[i].Name.V, b.h.VMKs[j].Name.V) })
	b.storeNFS(s)
}

func orNone(s string) string {
	if s == "" {
		return "no rows"
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// storeIdentity takes host name and management address from the 8.x
// advanced-option rows when esx.conf did not give them.
func storeIdentity(h *Host, s *configstore.Store) {
	for _, f := range []struct {
		name, field string
		dst         *Value
	}{
		{"misc", "host_name", &h.Hostname},
		{"misc", "host_IP_addr", &h.ManagementAddr},
		{"net", "management_addr", &h.ManagementAddr},
		{"net", "management_iface", &h.ManagementIface}, // name inferred from the snake_case pattern [U]
	} {
		if f.dst.Known() {
			continue
		}
		for _, r := range s.Find("esx", "advanced_options", f.name) {
			v, col := r.Effective()
			flat := flattenJSON(v)
			if x, ok := flat[f.field]; ok && x != "" {
				*f.dst = Value{V: x, From: "ConfigStore " + r.Address() + " " + col + " " + f.field}
			}
		}
	}
}

// storeVmknics decodes one esx/network/vmknics row: an object, or an array
// of objects, each one vmk.
func (b *builder) storeVmknics(r configstore.Row) {
	v, col := r.Effective()
	var doc any
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		b.h.Notes = append(b.h.Notes, fmt.Sprintf("ConfigStore %s %s is not JSON: %v", r.Address(), col, err))
		return
	}
	objs, ok := doc.([]any)
	if !ok {
		objs = []any{doc}
	}
	for i, o := range objs {
		m, ok := o.(map[string]any)
		if !ok {
			continue
		}
		where := "ConfigStore " + r.Address() + " " + col
		if len(objs) > 1 || r.Identifier == "" {
			where += fmt.Sprintf("[%d]", i)
		}
		flat := map[string]string{}
		flatten("", m, flat)
		sv := &VMK{Key: where, Extra: map[string]string{}}
		for k, val := range flat {
			field, ok := storeVmkFields[k]
			if !ok {
				sv.Extra[k] = val
				continue
			}
			x := Value{V: val, From: where + " " + k}
			switch field {
			case "name":
				sv.Name = x
			case "ipv4Address":
				sv.IPv4Address = x
			case "ipv4Netmask":
				sv.IPv4Netmask = x
			case "dhcp":
				sv.DHCP = x
			case "peerDns":
				sv.PeerDNS = x
			case "dhcpv6":
				sv.DHCPv6 = x
			}
		}
		b.mergeVmk(sv)
	}
}

// mergeVmk adds a ConfigStore vmk, or completes the esx.conf vmk of the
// same name. On 7.0 U2+ the store is authoritative, so a conflicting value
// is replaced by the store's and the conflict noted.
func (b *builder) mergeVmk(sv *VMK) {
	if !sv.Name.Known() {
		b.h.Notes = append(b.h.Notes, sv.Key+": vmknic without a device name; kept as is")
		b.h.VMKs = append(b.h.VMKs, sv)
		return
	}
	cur := b.vmk(sv.Name.V)
	if cur == nil {
		b.h.VMKs = append(b.h.VMKs, sv)
		return
	}
	for _, p := range []struct {
		name     string
		dst, src *Value
	}{
		{"ipv4Address", &cur.IPv4Address, &sv.IPv4Address}, {"ipv4Netmask", &cur.IPv4Netmask, &sv.IPv4Netmask},
		{"dhcp", &cur.DHCP, &sv.DHCP}, {"peerDns", &cur.PeerDNS, &sv.PeerDNS}, {"dhcpv6", &cur.DHCPv6, &sv.DHCPv6},
	} {
		if !p.src.Known() {
			continue
		}
		if p.dst.Known() && p.dst.V != p.src.V {
			b.h.Notes = append(b.h.Notes, fmt.Sprintf("%s %s: esx.conf has %q, ConfigStore %q; the ConfigStore value is used", sv.Name.V, p.name, p.dst.V, p.src.V))
		}
		*p.dst = *p.src
	}
	for k, v := range sv.Extra {
		cur.Extra["configstore:"+k] = v
	}
}

func flattenJSON(s string) map[string]string {
	var doc any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	out := map[string]string{}
	if dec.Decode(&doc) == nil {
		flatten("", doc, out)
	}
	return out
}

// flatten turns a JSON document into path -> scalar text ("ip.ipv4_address",
// "tags[0]"); keys are kept byte-exact.
func flatten(prefix string, v any, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && prefix != "" {
			out[prefix] = "{}"
		}
		for k, e := range x {
			flatten(join(k), e, out)
		}
	case []any:
		if len(x) == 0 && prefix != "" {
			out[prefix] = "[]"
		}
		for i, e := range x {
			flatten(prefix+"["+strconv.Itoa(i)+"]", e, out)
		}
	case string:
		out[prefix] = x
	case json.Number:
		out[prefix] = x.String()
	case bool:
		out[prefix] = strconv.FormatBool(x)
	case nil:
		out[prefix] = "null"
	default:
		var buf bytes.Buffer
		json.NewEncoder(&buf).Encode(x)
		out[prefix] = strings.TrimSpace(buf.String())
	}
}

// storeNFS reads esx/storage/nfs_v3_datastores (fields hostname,
// volume_name, remote_share, as dissect reads them [S]) and, by the same
// pattern, nfs_v41_datastores [I].
func (b *builder) storeNFS(s *configstore.Store) {
	for _, key := range []string{"nfs_v3_datastores", "nfs_v41_datastores"} {
		for _, r := range s.Find("esx", "storage", key) {
			v, col := r.Effective()
			f := flattenJSON(v)
			where := "ConfigStore " + r.Address() + " " + col + " "
			val := func(k string) Value {
				if x, ok := f[k]; ok {
					return Value{V: x, From: where + k}
				}
				return Value{}
			}
			label := f["volume_name"]
			if label == "" {
				label = r.Identifier
			}
			m := &NFSMount{Label: label, Host: val("hostname"), Share: val("remote_share")}
			if key == "nfs_v41_datastores" {
				// NFS 4.1 may list several server addresses; the first decides the vmk.
				if !m.Host.Known() {
					m.Host = val("hostnames[0]")
				}
			}
			m.VMK, m.Via = storageVMK(b.h, m.Host.V)
			b.h.NFS = append(b.h.NFS, m)
		}
	}
}

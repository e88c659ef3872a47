package netcfg

import (
	"encoding/json"

	"github.com/vmfsrecover/vmfsrecover/netcfg/esxconf"
)

// Value is one setting as found in the configuration. From names the esx.conf
// key or file it came from; an empty From means the setting was absent and is
// unknown. Values stay strings: no default is ever filled in.
type Value struct {
	V    string
	From string
}

// Known reports whether the setting was present.
func (v Value) Known() bool { return v.From != "" }

// String returns the value, or "unknown".
func (v Value) String() string {
	if !v.Known() {
		return "unknown"
	}
	return v.V
}

// MarshalJSON writes null for an unknown value, else {"value", "from"}.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.Known() {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Value string `json:"value"`
		From  string `json:"from"`
	}{v.V, v.From})
}

// Host is the recovered network layout of one ESXi host.
type Host struct {
	Origin          string          `json:"origin"` // where the configuration was read from
	Notes           []string        `json:"notes,omitempty"`
	Version         Value           `json:"version"` // /resourceGroups/version, else boot.cfg build=
	UUID            Value           `json:"uuid"`
	Hostname        Value           `json:"hostname"` // as stored: an FQDN in /adv/Misc/HostName
	ManagementAddr  Value           `json:"managementAddr"`
	ManagementIface Value           `json:"managementIface"`
	DNSServers      []Value         `json:"dnsServers"`
	DNSSearch       []Value         `json:"dnsSearch"`
	VSwitches       []*VSwitch      `json:"vswitches"`
	PNICs           []*PNIC         `json:"pnics"`
	VMKs            []*VMK          `json:"vmks"`
	Netstacks       []*Netstack     `json:"netstacks"`
	Routes          []*Route        `json:"routes"`
	NFS             []*NFSMount     `json:"nfs"`
	ISCSI           []*ISCSIBinding `json:"iscsiBindings"`
	Findings        []Finding       `json:"findings"`
	ConfigStore     []StoreRow      `json:"configStore"`  // esx/network and esx/advanced_options rows, as found
	Unknown         []esxconf.Entry `json:"unknownKeys"`  // esx.conf keys the model does not interpret
	Problems        []Problem       `json:"problems"`     // malformed or suspicious esx.conf lines
	MoreProblems    int             `json:"moreProblems"` // bad lines beyond those listed
}

// Problem is a malformed or suspicious esx.conf line.
type Problem struct {
	Line    int    `json:"line"`
	Offset  int64  `json:"offset"`
	Error   string `json:"error"`
	Text    string `json:"text"`
	Skipped bool   `json:"skipped"`
}

// VSwitch is a standard vSwitch.
type VSwitch struct {
	Key        string       `json:"key"` // esx.conf path of the object
	Name       Value        `json:"name"`
	NumPorts   Value        `json:"numPorts"`
	MTU        Value        `json:"mtu"`
	CDP        Value        `json:"cdp"`
	Uplinks    []Value      `json:"uplinks"` // membership (uplinks/child[N]/pnic)
	Teaming    *Teaming     `json:"teaming"`
	Security   *Security    `json:"security"`
	Shaping    Value        `json:"shaping"`
	PortGroups []*PortGroup `json:"portgroups"`
}

// Teaming is a NIC-teaming policy (vSwitch level, or a port-group override).
type Teaming struct {
	Policy             Value   `json:"policy"` // lb_srcid, lb_ip, lb_srcmac, fo_explicit
	Order              []Value `json:"order"`  // teamPolicy/uplinks[N]/pnic, in order
	MaxActive          Value   `json:"maxActive"`
	NotifySwitch       Value   `json:"notifySwitch"`
	RollingRestoration Value   `json:"rollingRestoration"` // "true" = failback off
	ReversePolicy      Value   `json:"reversePolicy"`
	HasUplinkOrder     Value   `json:"hasUplinkOrder"`
	Beacon             Value   `json:"beacon"`
}

// Security is an L2 security policy.
type Security struct {
	Promiscuous Value `json:"promiscuous"`
	MacChange   Value `json:"macChange"`
	ForgedTx    Value `json:"forgedTx"`
}

// PortGroup is a standard port group.
type PortGroup struct {
	Key      string    `json:"key"`
	Name     Value     `json:"name"`
	VLAN     Value     `json:"vlan"`
	VSwitch  string    `json:"vswitch"`
	Teaming  *Teaming  `json:"teaming"` // nil: no override
	Security *Security `json:"security"`
}

// PNIC is a physical NIC.
type PNIC struct {
	Key        string `json:"key"`
	Name       Value  `json:"name"`
	MAC        Value  `json:"mac"`
	VirtualMAC Value  `json:"virtualMac"`
	PCI        Value  `json:"pci"` // /vmkdevmgr/pci/<id> whose alias is this NIC; <id> kept as stored
}

// VMK is a VMkernel network interface.
type VMK struct {
	Key         string            `json:"key"`
	Name        Value             `json:"name"`
	PortGroup   Value             `json:"portgroup"`
	VSwitch     Value             `json:"vswitch"` // resolved through port-group names
	DVSName     Value             `json:"dvsName"`
	DVSID       Value             `json:"dvsId"`
	DVPort      Value             `json:"dvPort"`
	MAC         Value             `json:"mac"`
	DHCP        Value             `json:"dhcp"`
	IPv4Address Value             `json:"ipv4Address"`
	IPv4Netmask Value             `json:"ipv4Netmask"`
	PeerDNS     Value             `json:"peerDns"`
	DHCPv6      Value             `json:"dhcpv6"`
	IPv6        []Value           `json:"ipv6Addresses"`
	MTU         Value             `json:"mtu"`
	Enabled     Value             `json:"enabled"`
	Netstack    Value             `json:"netstack"`
	Type        Value             `json:"type"` // vmknic type (GENERIC, ISCSI)
	Services    []Service         `json:"services"`
	Extra       map[string]string `json:"extra"` // leaves under the vmk the model does not know
	// OnlyNamed: no vmknic entry was found; the vmk is known only from a
	// key that names it (Name.From), such as /adv/Net/ManagementIface.
	OnlyNamed bool `json:"onlyNamed,omitempty"`
}

// Service is a service enabled on a vmk, with where the tag came from.
type Service struct {
	Tag  string `json:"tag"` // esxcli tag name, e.g. VMotion
	From string `json:"from"`
}

// Netstack is a TCP/IP stack instance.
type Netstack struct {
	Name    string   `json:"name"` // "unknown" groups vmks whose stack was not recorded
	Gateway Value    `json:"gateway"`
	VMKs    []string `json:"vmks"`
}

// Route is a static route or a default gateway.
type Route struct {
	Netstack Value  `json:"netstack"`
	Network  string `json:"network"` // "default" or address/prefix
	Gateway  string `json:"gateway"`
	From     string `json:"from"`
}

// NFSMount is an NFS datastore and the vmk its traffic would leave through.
type NFSMount struct {
	Label    string `json:"label"`
	Host     Value  `json:"host"`
	Share    Value  `json:"share"`
	ReadOnly Value  `json:"readOnly"`
	VMK      string `json:"vmk"` // derived: vmk on the default stack whose subnet holds Host; "" if none
	Via      string `json:"via"` // how VMK was chosen, or why none
}

// ISCSIBinding is an iSCSI port binding of a vmk.
type ISCSIBinding struct {
	VMK     string `json:"vmk"`
	Adapter Value  `json:"adapter"`
	From    string `json:"from"`
}

// Finding is one result of the inspection.
type Finding struct {
	Check    string `json:"check"`    // stable identifier, e.g. "vmotion-on-management"
	Severity string `json:"severity"` // "warning" or "info"
	Subject  string `json:"subject"`  // vmk, vSwitch or "host"
	Message  string `json:"message"`
}

// index gives map lookups over a host, so that checks and renderers stay
// linear on a hostile esx.conf with many thousands of objects.
type index struct {
	sw     map[string]*VSwitch
	pg     map[[2]string]*PortGroup // vSwitch, port group
	vmksAt map[[2]string][]*VMK     // vmks on a standard port group
}

func (h *Host) index() *index {
	x := &index{sw: map[string]*VSwitch{}, pg: map[[2]string]*PortGroup{}, vmksAt: map[[2]string][]*VMK{}}
	for _, s := range h.VSwitches {
		if !s.Name.Known() {
			continue
		}
		if _, dup := x.sw[s.Name.V]; !dup {
			x.sw[s.Name.V] = s
		}
		for _, g := range s.PortGroups {
			k := [2]string{s.Name.V, g.Name.V}
			if _, dup := x.pg[k]; !dup && g.Name.Known() {
				x.pg[k] = g
			}
		}
	}
	for _, v := range h.VMKs {
		if v.VSwitch.Known() && v.PortGroup.Known() {
			k := [2]string{v.VSwitch.V, v.PortGroup.V}
			x.vmksAt[k] = append(x.vmksAt[k], v)
		}
	}
	return x
}

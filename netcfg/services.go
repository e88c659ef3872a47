package netcfg

import (
	"sort"
	"strings"
)

// ServiceInfo names one vmk service in its three spellings.
type ServiceInfo struct {
	Tag     string // esxcli `network ip interface tag add -t` value
	NicType string // vSphere API HostVirtualNicManager nicType
	Label   string // vSphere Client label
}

// Services lists every service a vmk can carry, in display order. Tags marked
// [I] in the research notes (VSANWitness, vSphereBackupNFC, NVMeTCP,
// NVMeRDMA, PTP) are spelled as the notes infer them.
var Services = []ServiceInfo{
	{"Management", "management", "Management"},
	{"VMotion", "vmotion", "vMotion"},
	{"vSphereProvisioning", "vSphereProvisioning", "Provisioning"},
	{"faultToleranceLogging", "faultToleranceLogging", "Fault Tolerance logging"},
	{"vSphereReplication", "vSphereReplication", "vSphere Replication"},
	{"vSphereReplicationNFC", "vSphereReplicationNFC", "vSphere Replication NFC"},
	{"VSAN", "vsan", "vSAN"},
	{"VSANWitness", "vsanWitness", "vSAN Witness"},
	{"vSphereBackupNFC", "vSphereBackupNFC", "vSphere Backup NFC"},
	{"NVMeTCP", "nvmeTcp", "NVMe over TCP"},
	{"NVMeRDMA", "nvmeRdma", "NVMe over RDMA"},
	{"PTP", "ptp", "PTP"},
}

// lookupService finds a service by any of its spellings, ignoring case.
// Unknown names are returned as found, with ok false.
func lookupService(name string) (ServiceInfo, bool) {
	n := strings.TrimSpace(name)
	for _, s := range Services {
		if strings.EqualFold(n, s.Tag) || strings.EqualFold(n, s.NicType) || strings.EqualFold(n, s.Label) {
			return s, true
		}
	}
	return ServiceInfo{Tag: n, NicType: n, Label: n}, false
}

func serviceOrder(tag string) int {
	for i, s := range Services {
		if s.Tag == tag {
			return i
		}
	}
	return len(Services)
}

// HasService reports whether the vmk carries the service with this esxcli tag.
func (v *VMK) HasService(tag string) bool {
	for _, s := range v.Services {
		if s.Tag == tag {
			return true
		}
	}
	return false
}

// addService records a service once, merging the sources.
func (v *VMK) addService(name, from string) {
	info, _ := lookupService(name)
	for i, s := range v.Services {
		if s.Tag == info.Tag {
			if !strings.Contains(s.From, from) {
				v.Services[i].From += "; " + from
			}
			return
		}
	}
	v.Services = append(v.Services, Service{Tag: info.Tag, From: from})
	for i := len(v.Services) - 1; i > 0 && serviceOrder(v.Services[i].Tag) < serviceOrder(v.Services[i-1].Tag); i-- {
		v.Services[i], v.Services[i-1] = v.Services[i-1], v.Services[i]
	}
}

// ServiceTags returns the vmk's service tags in display order.
func (v *VMK) ServiceTags() []string {
	out := make([]string, len(v.Services))
	for i, s := range v.Services {
		out[i] = s.Tag
	}
	return out
}

// ExtraKeys returns the keys of Extra, the vmk settings the model does not
// map, sorted.
func (v *VMK) ExtraKeys() []string {
	keys := make([]string, 0, len(v.Extra))
	for k := range v.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

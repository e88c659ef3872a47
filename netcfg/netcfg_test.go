package netcfg

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/netcfg/esxconf"
	"github.com/vmfsrecover/vmfsrecover/netcfg/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite golden files")

// loadFixture builds the model from testdata/esx/<name>/ at the top, as
// local.tgz would hold it.
func loadFixture(t *testing.T, name string) *Host {
	t.Helper()
	dir := testenv.Testdata(t, "esx", name)
	read := func(f string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil
		}
		return b
	}
	conf, err := esxconf.Parse(bytes.NewReader(read("esx.conf")))
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Origin: "testdata/esx/" + name, EsxConf: conf, Hosts: read("hosts"), ResolvConf: read("resolv.conf"), LocalSh: read("local.sh")}
	if sql := read("configstore.sql"); sql != nil {
		in.ConfigStore = "var/lib/vmware/configstore/backup/current-store-1"
		in.ConfigStoreData = fixture.SQLite(t, string(sql))
	}
	return Build(in)
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	formats := []struct {
		ext   string
		write func(io.Writer, *Host) error
	}{
		{"txt", WriteText}, {"json", WriteJSON}, {"dot", WriteDOT}, {"sh", WriteESXCLI}, {"raw", WriteRaw},
	}
	for _, fx := range []string{"esx4x", "esx6x", "esx7x", "esx8x"} {
		for _, f := range formats {
			t.Run(fx+"."+f.ext, func(t *testing.T) {
				h := loadFixture(t, fx)
				var buf bytes.Buffer
				if err := f.write(&buf, h); err != nil {
					t.Fatal(err)
				}
				if f.ext == "json" && !json.Valid(buf.Bytes()) {
					t.Fatal("invalid JSON")
				}
				golden(t, filepath.Join("testdata", "golden", fx+"."+f.ext), buf.Bytes())
			})
		}
	}
}

func findings(h *Host) map[string][]string {
	out := map[string][]string{}
	for _, f := range h.Findings {
		out[f.Check] = append(out[f.Check], f.Subject)
	}
	return out
}

func vmk(t *testing.T, h *Host, name string) *VMK {
	t.Helper()
	for _, v := range h.VMKs {
		if v.Name.V == name {
			return v
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func TestESX4xSingleServiceOptions(t *testing.T) {
	h := loadFixture(t, "esx4x")
	if got := vmk(t, h, "vmk0").ServiceTags(); strings.Join(got, ",") != "Management,VMotion,faultToleranceLogging" {
		t.Errorf("vmk0 services = %v", got)
	}
	if got := vmk(t, h, "vmk1").ServiceTags(); len(got) != 0 {
		t.Errorf("vmk1 services = %v", got)
	}
	f := findings(h)
	for _, c := range []string{"ft-not-dedicated", "vmotion-on-management", "shared-services"} {
		if strings.Join(f[c], ",") != "vmk0" {
			t.Errorf("%s = %v, want vmk0", c, f[c])
		}
	}
	if len(h.NFS) != 1 || h.NFS[0].VMK != "vmk1" {
		t.Errorf("NFS should leave by the untagged vmk1: %+v", h.NFS)
	}
	if h.Hostname.V != "esx41.lab.example" || len(h.DNSServers) != 2 || h.DNSSearch[0].V != "lab.example" {
		t.Errorf("identity: %v %v %v", h.Hostname, h.DNSServers, h.DNSSearch)
	}
	if len(h.Routes) != 3 || h.Routes[1].Network != "10.99.0.0/16" || h.Routes[2].Network != "172.16.5.0/24" || h.Routes[2].Gateway != "10.20.0.1" {
		t.Errorf("routes: %+v %+v %+v", h.Routes[0], h.Routes[1], h.Routes[len(h.Routes)-1])
	}
	if pg := h.VSwitches[0].PortGroups[1]; pg.Teaming == nil || UplinkRole(pg.Teaming, "vmnic1") != "active" || UplinkRole(pg.Teaming, "vmnic0") != "standby" {
		t.Errorf("VMotion port-group override not read: %+v", pg.Teaming)
	}
	if h.VSwitches[0].PortGroups[0].Teaming != nil {
		t.Error("Management Network has no override but got one")
	}
}

func TestESX6xLayoutAndChecks(t *testing.T) {
	h := loadFixture(t, "esx6x")
	want := []string{"vmk0", "vmk1", "vmk2", "vmk3", "vmk4", "vmk10"}
	for i, v := range h.VMKs {
		if v.Name.V != want[i] {
			t.Fatalf("vmk order %d = %s, want %s (numeric, not child index)", i, v.Name.V, want[i])
		}
	}
	cases := map[string]string{
		"vmk0": "Management,VSANWitness",
		"vmk1": "VMotion",
		"vmk2": "vSphereReplication,vSphereReplicationNFC,VSAN",
		"vmk3": "",
		"vmk4": "faultToleranceLogging",
	}
	for name, tags := range cases {
		if got := strings.Join(vmk(t, h, name).ServiceTags(), ","); got != tags {
			t.Errorf("%s services = %q, want %q", name, got, tags)
		}
	}
	v3 := vmk(t, h, "vmk3")
	if v3.PortGroup.V != "10" || v3.VSwitch.Known() || v3.MTU.Known() || v3.Extra["tsoMss"] != "65535" {
		t.Errorf("vmk3 = %+v", v3)
	}
	if v4 := vmk(t, h, "vmk4"); v4.DVSName.V != "dvs-prod" || v4.DVPort.V != "1024" || v4.VSwitch.Known() {
		t.Errorf("vmk4 = %+v", v4)
	}
	if vmk(t, h, "vmk2").VSwitch.V != "vSwitch1" {
		t.Errorf("vmk2 vswitch = %v", vmk(t, h, "vmk2").VSwitch)
	}
	f := findings(h)
	for check, subj := range map[string]string{
		"mtu-above-switch":             "vmk1,vmk2",
		"same-subnet":                  "vmk2,vmk10",
		"portgroup-not-found":          "vmk3",
		"uplink-not-in-failover-order": "vSwitch0,vSwitch1/iSCSI-A",
		"gateway-outside-subnet":       "vmk2,vmk4,vmk10",
	} {
		if got := strings.Join(f[check], ","); got != subj {
			t.Errorf("%s subjects = %q, want %q", check, got, subj)
		}
	}
	if !strings.Contains(strings.Join(h.Notes, "\n"), `/adv/Migrate/Vmknic = "vmk0" ignored as stale`) {
		t.Errorf("stale /Migrate/Vmknic not reported: %v", h.Notes)
	}
	if len(f["no-management"]) != 0 || len(f["ft-not-dedicated"]) != 0 || len(f["vmotion-on-management"]) != 0 {
		t.Errorf("unexpected findings %v", f)
	}
	if len(h.Problems) != 2 || h.Problems[0].Line == 0 {
		t.Errorf("problems = %+v", h.Problems)
	}
	if len(h.NFS) != 2 || h.NFS[0].VMK != "" || h.NFS[1].VMK != "" {
		t.Errorf("nfs = %+v %+v", h.NFS[0], h.NFS[1])
	}
	if len(h.ISCSI) != 1 || h.ISCSI[0].VMK != "vmk10" {
		t.Errorf("iscsi = %+v", h.ISCSI)
	}
	if h.PNICs[2].PCI.V != "m3b000000" {
		t.Errorf("vmnic2 pci = %v", h.PNICs[2].PCI)
	}
	unknown := map[string]bool{}
	for _, e := range h.Unknown {
		unknown[e.Key] = true
	}
	for _, k := range []string{"/firewall/services/sshServer/enabled", "/vsan/enabled", "/vmkdevmgr/pci/m00001f02/alias", "/vsan/network/child[0000]/agentPort"} {
		if !unknown[k] {
			t.Errorf("%s missing from unknown keys", k)
		}
	}
	for _, k := range []string{"/net/vmkernelnic/child[0003]/tsoMss", "/net/vswitch/child[0000]/name"} {
		if unknown[k] {
			t.Errorf("%s listed as unknown although the model holds it", k)
		}
	}
}

func TestESX8xWithoutVmknics(t *testing.T) {
	h := loadFixture(t, "esx8x")
	// No vmknic entries, but /adv/Net/ManagementIface names vmk0: vmk0 is
	// the management vmk, known only from that key.
	if len(h.VMKs) != 1 || len(findings(h)["no-management"]) != 0 {
		t.Fatalf("vmks %d findings %v", len(h.VMKs), h.Findings)
	}
	if v := vmk(t, h, "vmk0"); !v.OnlyNamed || !v.HasService("Management") || v.PortGroup.Known() || v.IPv4Address.Known() {
		t.Errorf("vmk0 = %+v", v)
	}
	if !strings.Contains(strings.Join(h.Notes, "\n"), "ConfigStore") {
		t.Errorf("notes do not explain the missing vmknics: %v", h.Notes)
	}
	if strings.Contains(strings.Join(h.Notes, "\n"), "/adv/Net/ManagementIface names vmk0") == false {
		t.Errorf("dangling ManagementIface not reported: %v", h.Notes)
	}
}

// TestVmkKnownOnlyFromKeys: every vmk a key names is a vmk of the model with
// the services the keys give it; settings the model cannot map are warned
// about by Inspect and commented in the esxcli script, and so is DNS that
// was not found.
func TestVmkKnownOnlyFromKeys(t *testing.T) {
	conf, _ := esxconf.ParseString(`/adv/Net/ManagementIface = "vmk0"
/adv/Migrate/Vmknic = "vmk1"
/adv/FT/Vmknic = "vmk2"
/net/vmkernelnic/child[0001]/name = "vmk1"
/net/vmkernelnic/child[0001]/tags/VMotion = "true"
`)
	h := Build(&Input{EsxConf: conf})
	if len(h.VMKs) != 3 {
		t.Fatalf("%d vmks, want vmk0, vmk1, vmk2: %+v", len(h.VMKs), h.VMKs)
	}
	for name, tags := range map[string]string{"vmk0": "Management", "vmk1": "VMotion", "vmk2": "faultToleranceLogging"} {
		v := vmk(t, h, name)
		if got := strings.Join(v.ServiceTags(), ","); got != tags {
			t.Errorf("%s services = %q, want %q", name, got, tags)
		}
		if v.OnlyNamed != (name != "vmk1") || v.MTU.Known() || v.PortGroup.Known() {
			t.Errorf("%s = %+v", name, v)
		}
	}
	f := findings(h)
	if len(f["no-management"]) != 0 || strings.Join(f["vmk-only-named"], ",") != "vmk0,vmk2" {
		t.Errorf("findings %v", h.Findings)
	}
	var unmapped string
	for _, x := range h.Findings {
		if x.Check == "unmapped-setting" {
			unmapped += x.Message
		}
	}
	if !strings.Contains(unmapped, "/net/vmkernelnic/child[0001]/tags/VMotion") {
		t.Errorf("inspect does not warn about the unmapped tags/VMotion: %v", h.Findings)
	}
	var buf bytes.Buffer
	if err := WriteESXCLI(&buf, h); err != nil {
		t.Fatal(err)
	}
	script := buf.String()
	for _, want := range []string{
		"tags/VMotion = \"true\"",
		"esxcli network ip interface tag add -i vmk0 -t Management",
		"# DNS servers: none found",
		"# DNS search domains: none found",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
}

func TestESX7xConfigStore(t *testing.T) {
	h := loadFixture(t, "esx7x")
	if len(h.VMKs) != 2 {
		t.Fatalf("%d vmks from ConfigStore, want 2", len(h.VMKs))
	}
	v0, v1 := vmk(t, h, "vmk0"), vmk(t, h, "vmk1")
	if v0.IPv4Address.V != "198.51.100.21" || v0.IPv4Netmask.V != "255.255.255.0" || v0.DHCP.V != "false" || !strings.Contains(v0.IPv4Address.From, "ConfigStore esx/network/vmknics[vmk0] UserValue") {
		t.Errorf("vmk0 = %+v", v0)
	}
	// Field names the notes do not confirm stay unmapped.
	if v0.MTU.Known() || v0.PortGroup.Known() || v0.Extra["mtu"] != "1500" || v0.Extra["port_group"] != "Management Network" {
		t.Errorf("vmk0 guessed fields were mapped: mtu %v pg %v extra %v", v0.MTU, v0.PortGroup, v0.Extra)
	}
	if v1.DHCP.V != "true" || !v0.HasService("Management") {
		t.Errorf("vmk1 dhcp %v, vmk0 services %v", v1.DHCP, v0.Services)
	}
	if h.Hostname.V != "esx703.example.net" || !strings.Contains(h.Hostname.From, "VitalValue host_name") {
		t.Errorf("hostname %+v", h.Hostname)
	}
	if len(h.NFS) != 1 || h.NFS[0].VMK != "vmk0" || h.NFS[0].Share.V != "/export/iso" {
		t.Errorf("nfs from ConfigStore: %+v", h.NFS)
	}
	if len(h.ConfigStore) != 5 { // 2 vmknics, net_stacks, misc, nfs; not syslog
		t.Errorf("%d ConfigStore rows kept: %+v", len(h.ConfigStore), h.ConfigStore)
	}
}

func TestConfigStoreArrayAndConflict(t *testing.T) {
	conf, _ := esxconf.ParseString(`/net/vmkernelnic/child[0000]/name = "vmk0"
/net/vmkernelnic/child[0000]/ipv4address = "10.0.0.1"
/net/vmkernelnic/child[0000]/portgroup = "Management Network"
`)
	db := fixture.SQLite(t, `CREATE TABLE Config (Component TEXT, ConfigGroup TEXT, Name TEXT, Identifier TEXT NOT NULL DEFAULT '', UserValue TEXT, PRIMARY KEY (Component, ConfigGroup, Name, Identifier)) WITHOUT ROWID;
INSERT INTO Config VALUES ('esx','network','vmknics','','[{"device":"vmk0","ip":{"ipv4_address":"10.0.0.2"}},{"device":"vmk5","tags":["VMotion"]}]');`)
	h := Build(&Input{EsxConf: conf, ConfigStore: "store", ConfigStoreData: db})
	if len(h.VMKs) != 2 || vmk(t, h, "vmk0").IPv4Address.V != "10.0.0.2" || vmk(t, h, "vmk0").PortGroup.V != "Management Network" {
		t.Fatalf("merge: %+v", h.VMKs)
	}
	if vmk(t, h, "vmk5").Extra["tags[0]"] != "VMotion" {
		t.Errorf("vmk5 extra %v", vmk(t, h, "vmk5").Extra)
	}
	if !strings.Contains(strings.Join(h.Notes, "\n"), `vmk0 ipv4Address: esx.conf has "10.0.0.1", ConfigStore "10.0.0.2"`) {
		t.Errorf("conflict not noted: %v", h.Notes)
	}
	h = Build(&Input{EsxConf: conf, ConfigStore: "store", ConfigStoreData: []byte("garbage")})
	if !strings.Contains(strings.Join(h.Notes, "\n"), "ConfigStore store unreadable") || len(h.VMKs) != 1 {
		t.Errorf("garbage store: %v", h.Notes)
	}
}

func TestUnknownStaysUnknown(t *testing.T) {
	conf, _ := esxconf.ParseString(`/net/vmkernelnic/child[0000]/name = "vmk0"` + "\n")
	h := Build(&Input{EsxConf: conf})
	v := h.VMKs[0]
	for name, val := range map[string]Value{"mtu": v.MTU, "ip": v.IPv4Address, "dhcp": v.DHCP, "netstack": v.Netstack, "enabled": v.Enabled, "vswitch": v.VSwitch} {
		if val.Known() || val.String() != "unknown" {
			t.Errorf("%s = %+v, want unknown", name, val)
		}
	}
	b, _ := json.Marshal(v.MTU)
	if string(b) != "null" {
		t.Errorf("unknown MTU marshals as %s", b)
	}
	var buf bytes.Buffer
	if err := WriteESXCLI(&buf, h); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), " -m ") || !strings.Contains(buf.String(), "# vmk0: IPv4 configuration unknown") {
		t.Errorf("script invents values:\n%s", buf.String())
	}
}

func TestInspectFTPortGroup(t *testing.T) {
	known := func(s string) Value { return Value{V: s, From: "test"} }
	ft := &VMK{Name: known("vmk2"), PortGroup: known("FT"), VSwitch: known("vSwitch1")}
	ft.addService("faultToleranceLogging", "test")
	other := &VMK{Name: known("vmk3"), PortGroup: known("FT"), VSwitch: known("vSwitch1")}
	mgmt := &VMK{Name: known("vmk0"), PortGroup: known("Management Network"), VSwitch: known("vSwitch0")}
	mgmt.addService("Management", "test")
	h := &Host{VMKs: []*VMK{mgmt, ft, other}}
	f := findings(&Host{Findings: Inspect(h)})
	if strings.Join(f["ft-not-dedicated"], ",") != "vmk2" || len(f["shared-services"]) != 0 || len(f["no-management"]) != 0 {
		t.Errorf("findings %v", f)
	}
}

func TestAtLeast702(t *testing.T) {
	for v, want := range map[string]bool{"6.7.0": false, "7.0.1": false, "7.0.2": true, "7.0.3": true, "8.0.3": true, "7.0.2-0.0.17867351": true, "17867351": false, "": false, "7.1": true} {
		if got := atLeast702(v); got != want {
			t.Errorf("atLeast702(%q) = %v", v, got)
		}
	}
}

func TestSh(t *testing.T) {
	for in, want := range map[string]string{"vmk0": "vmk0", "Management Network": "'Management Network'", "it's": `'it'\''s'`, "": "''", "$(reboot)": "'$(reboot)'"} {
		if got := sh(in); got != want {
			t.Errorf("sh(%q) = %s, want %s", in, got, want)
		}
	}
}

func readFile(t testing.TB, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

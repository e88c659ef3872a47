package netcfg

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestESXCLIOrder replays each generated script against a model of a fresh
// host (vSwitch0 with vmnic0, "Management Network", vmk0) and checks that
// every command refers only to objects an earlier command created.
func TestESXCLIOrder(t *testing.T) {
	opt := func(line, short, long string) string {
		f := strings.Fields(line)
		for i, w := range f {
			if (w == short || w == long) && i+1 < len(f) {
				return strings.Trim(f[i+1], "'")
			}
			if strings.HasPrefix(w, long+"=") {
				return strings.Trim(strings.TrimPrefix(w, long+"="), "'")
			}
		}
		return ""
	}
	// Quoted port-group names hold spaces: pull -p '...' out first.
	quotedPG := regexp.MustCompile(`-p '([^']*)'`)
	for _, fx := range []string{"esx4x", "esx6x", "esx7x", "esx8x"} {
		t.Run(fx, func(t *testing.T) {
			h := loadFixture(t, fx)
			var buf bytes.Buffer
			if err := WriteESXCLI(&buf, h); err != nil {
				t.Fatal(err)
			}
			switches := map[string]bool{"vSwitch0": true}
			pgs := map[string]bool{"Management Network": true, "VM Network": true}
			vmks := map[string]bool{"vmk0": true}
			stacks := map[string]bool{"defaultTcpipStack": true, "vmotion": true, "vSphereProvisioning": true}
			for n, line := range strings.Split(buf.String(), "\n") {
				if !strings.HasPrefix(line, "esxcli ") {
					continue
				}
				pg := opt(line, "-p", "--portgroup-name")
				if m := quotedPG.FindStringSubmatch(line); m != nil {
					pg = m[1]
				}
				fail := func(what string) { t.Errorf("line %d uses %s before it exists: %s", n+1, what, line) }
				switch {
				case strings.HasPrefix(line, "esxcli network ip netstack add"):
					stacks[opt(line, "-N", "--netstack")] = true
				case strings.HasPrefix(line, "esxcli network vswitch standard add"):
					switches[opt(line, "-v", "--vswitch-name")] = true
				case strings.HasPrefix(line, "esxcli network vswitch standard portgroup add"):
					if !switches[opt(line, "-v", "--vswitch-name")] {
						fail("a vSwitch")
					}
					pgs[pg] = true
				case strings.HasPrefix(line, "esxcli network vswitch standard portgroup"):
					if !pgs[pg] {
						fail("port group " + pg)
					}
				case strings.HasPrefix(line, "esxcli network vswitch standard"):
					if !switches[opt(line, "-v", "--vswitch-name")] {
						fail("a vSwitch")
					}
				case strings.HasPrefix(line, "esxcli network ip interface add"):
					if !pgs[pg] {
						fail("port group " + pg)
					}
					if s := opt(line, "-N", "--netstack"); s != "" && !stacks[s] {
						fail("netstack " + s)
					}
					vmks[opt(line, "-i", "--interface-name")] = true
				case strings.HasPrefix(line, "esxcli network ip interface"), strings.HasPrefix(line, "esxcli vsan network ip add"), strings.HasPrefix(line, "esxcli iscsi networkportal add"):
					name := opt(line, "-i", "--interface-name")
					if strings.HasPrefix(line, "esxcli iscsi") {
						name = opt(line, "-n", "--nic")
					}
					if !vmks[name] {
						fail("vmk " + name)
					}
				case strings.HasPrefix(line, "esxcli network ip route"):
					if s := opt(line, "", "--netstack"); s != "" && !stacks[s] {
						fail("netstack " + s)
					}
				}
			}
		})
	}
}

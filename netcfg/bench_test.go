package netcfg

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/netcfg/esxconf"
)

// largeConf is an esx.conf with n vmks, each on its own port group, spread
// over n/100 vSwitches: far beyond a real host (ESXi allows a few hundred
// vmks), the shape a hostile or garbled file can take.
func largeConf(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sw := fmt.Sprintf("/net/vswitch/child[%04d]", i/100)
		fmt.Fprintf(&sb, "%s/name = \"vSwitch%d\"\n", sw, i/100)
		fmt.Fprintf(&sb, "%s/portgroup/child[%04d]/name = \"pg%d\"\n", sw, i%100, i)
		vk := fmt.Sprintf("/net/vmkernelnic/child[%04d]", i%10000)
		if i >= 10000 {
			vk = fmt.Sprintf("/net/vmkernelnic/child[%d]", i) // malformed index, still read
		}
		fmt.Fprintf(&sb, "%s/name = \"vmk%d\"\n%s/portgroup = \"pg%d\"\n%s/ipv4address = \"10.%d.%d.1\"\n%s/ipv4netmask = \"255.255.255.0\"\n",
			vk, i, vk, i, vk, i/256%256, i%256, vk)
	}
	return sb.String()
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		conf := largeConf(n)
		b.Run(fmt.Sprintf("vmks=%d", n), func(b *testing.B) {
			for b.Loop() {
				f, _ := esxconf.ParseString(conf)
				h := Build(&Input{EsxConf: f})
				WriteText(io.Discard, h)
				WriteESXCLI(io.Discard, h)
			}
		})
	}
}

func FuzzBuild(f *testing.F) {
	for _, fx := range []string{"esx4x", "esx6x", "esx8x"} {
		f.Add(readFile(f, testenv.Testdata(f, "esx", fx, "esx.conf")), "nameserver 10.0.0.1\n", "esxcfg-route -a 10.0.0.0/8 10.1.1.1\n")
	}
	f.Fuzz(func(t *testing.T, conf, resolv, localSh string) {
		file, err := esxconf.ParseString(conf)
		if err != nil {
			t.Fatal(err)
		}
		h := Build(&Input{EsxConf: file, ResolvConf: []byte(resolv), LocalSh: []byte(localSh)})
		var buf bytes.Buffer
		for _, w := range []func(io.Writer, *Host) error{WriteText, WriteJSON, WriteDOT, WriteESXCLI, WriteRaw, WriteFindings} {
			if err := w(&buf, h); err != nil {
				t.Fatal(err)
			}
		}
	})
}

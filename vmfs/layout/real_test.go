package layout_test

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestRealSamples decodes the LVM header, the volume descriptor, the
// file-system descriptor and the first heartbeat of the three real
// samples through the tables alone, and checks them against what the
// samples' README says of them: the tables are right on volumes ESXi
// made, not only on the generator's.
func TestRealSamples(t *testing.T) {
	for _, c := range []struct {
		name         string
		major        uint64
		minor        uint64
		label, uuid  string
		subBlock, md uint64
		v6           bool
	}{
		{"vmfs3", 4, 31, "toto", "49edf844-ebfc28f3-65cb-0021280083cf", 64 << 10, 0, false},
		{"vmfs5", 14, 81, "VMFS5 Test", "61137dd5-df6bc2c8-f0e7-000c29801686", 8 << 10, 0, false},
		{"vmfs6", 24, 82, "VMFS6 Test", "6113001e-a6377ebc-1d24-000c29801686", 64 << 10, 4096, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			head := readHead(t, vmfstest.RealFile(t, c.name+".img.gz"), 0x1400000+0x200)
			lvm := head[layout.LVMHeaderOffset:]
			if m := layout.LVM.Magic.Get(lvm); m != layout.LVMMagic {
				t.Fatalf("LVM magic %#x", m)
			}
			volOff := 0x200 // the volume descriptor follows the header: 512 bytes on, one 4 KiB block on LVM6
			if c.v6 {
				volOff = 0x1000
			}
			vd := lvm[volOff:]
			// The samples are bare partitions whose volume starts at
			// the LVM data offset (0x1100000 on every sample).
			vol := head[layout.LVM.DataOffset.Get(lvm):]
			d := vol[layout.FSDescOffset:]
			f := layout.FSDesc
			label := string(f.Label.Bytes(d))
			label = label[:strings.IndexByte(label+"\x00", 0)]
			got := fmt.Sprintf("magic %#x %d.%d %q %s block %d sub-block %d md %d", f.Magic.Get(d), f.Major.Get(d), f.Minor.Get(d),
				label, uuid(f.UUID.Bytes(d)), f.BlockSize.Get(d), f.SubBlockSize.Get(d), f.MDAlignment.Get(d))
			want := fmt.Sprintf("magic %#x %d.%d %q %s block %d sub-block %d md %d", 0x2FABF15E, c.major, c.minor,
				c.label, c.uuid, 1<<20, c.subBlock, c.md)
			if got != want {
				t.Errorf("descriptor: %s\nwant        %s", got, want)
			}
			if lv, fsv := f.LVMUUID.Bytes(d), layout.VolumeDesc.UUID.Bytes(vd); string(lv) != string(fsv) {
				t.Errorf("descriptor's LVM UUID %s, the volume descriptor's %s", uuid(lv), uuid(fsv))
			}
			hb := vol[layout.HeartbeatOffset:]
			if st, self := layout.Heartbeat.State.Get(hb), layout.Heartbeat.Self.Get(hb); st != layout.HeartbeatFree && st != layout.HeartbeatUsed || self != layout.HeartbeatOffset {
				t.Errorf("heartbeat 0: state %#x, self %#x", st, self)
			}
		})
	}
}

// readHead is the first n bytes of the gzipped image at path.
func readHead(t *testing.T, path string, n int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(z, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// uuid prints a VMFS UUID as the samples' README does (vmfs.md: "UUIDs
// and times").
func uuid(u []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%08x-%04x-%x", le.Uint32(u), le.Uint32(u[4:]), le.Uint16(u[8:]), u[10:16])
}

package preview

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

const vmxText = `.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "web |22prod|22 01"
guestOS = "ubuntu-64"
numvcpus = "4"
cpuid.coresPerSocket = "2"
memSize = "8192"
firmware = "efi"
# a comment = "ignored"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "web.vmdk"
scsi0:1.present = "TRUE"
scsi0:1.fileName = "web_1.vmdk"
scsi0:10.fileName = "/vmfs/volumes/5f1e-ds/web/web_2-000001.vmdk"
scsi0:2.present = "FALSE"
scsi0:2.fileName = "gone.vmdk"
sata0:0.deviceType = "cdrom-image"
sata0:0.fileName = "/vmfs/volumes/datastore1/iso/ubuntu.iso"
ide1:0.deviceType = "atapi-cdrom"
ide1:0.fileName = "/dev/cdrom"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:aa:bb:cc"
ethernet0.startConnected = "TRUE"
ethernet1.present = "TRUE"
ethernet1.networkName = "Backup"
ethernet1.addressType = "static"
ethernet1.address = "00:50:56:00:00:01"
ethernet2.present = "FALSE"
ethernet2.networkName = "unused"
ethernet3.present = "TRUE"
ethernet3.networkName = "Isolated"
ethernet3.startConnected = "FALSE"
`

// guestDisk is a raw guest disk of 8 MiB with an MBR: an NTFS partition at
// LBA 2048 and an ext4 one at LBA 8192.
func guestDisk() []byte {
	b := make([]byte, 8<<20)
	entry := func(i int, typ byte, start, count uint32) {
		e := b[0x1BE+16*i:]
		e[4] = typ
		binary.LittleEndian.PutUint32(e[8:], start)
		binary.LittleEndian.PutUint32(e[12:], count)
	}
	entry(0, 0x07, 2048, 6144)
	entry(1, 0x83, 8192, 8192)
	b[510], b[511] = 0x55, 0xAA
	copy(b[2048*512+3:], "NTFS    ")
	sb := b[8192*512+1024:]
	binary.LittleEndian.PutUint16(sb[56:], 0xEF53)
	binary.LittleEndian.PutUint32(sb[96:], 0x40) // extents: ext4
	return b
}

func descriptor(createType, parentHint string, parentCID string, extents ...string) string {
	var sb strings.Builder
	sb.WriteString("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=fffffffe\n")
	sb.WriteString("parentCID=" + parentCID + "\ncreateType=\"" + createType + "\"\n")
	if parentHint != "" {
		sb.WriteString("parentFileNameHint=\"" + parentHint + "\"\n")
	}
	sb.WriteString("\n# Extent description\n")
	for _, e := range extents {
		sb.WriteString(e + "\n")
	}
	sb.WriteString("\nddb.adapterType = \"lsilogic\"\nddb.thinProvisioned = \"1\"\n")
	return sb.String()
}

func vmFS() fstest.MapFS {
	disk := guestDisk()
	return fstest.MapFS{
		"web/web.vmx":       {Data: []byte(vmxText)},
		"web/web.vmdk":      {Data: []byte(descriptor("vmfs", "", "ffffffff", `RW 16384 VMFS "web-flat.vmdk"`))},
		"web/web-flat.vmdk": {Data: disk},
		// web_1: descriptor whose flat extent is lost.
		"web/web_1.vmdk": {Data: []byte(descriptor("vmfs", "", "ffffffff", `RW 2048 VMFS "web_1-flat.vmdk"`))},
		// web_2-000001: a snapshot delta whose parent is gone, and its
		// own delta extent too.
		"web/web_2-000001.vmdk": {Data: []byte(descriptor("vmfsSparse", "web_2.vmdk", "fffffffe", `RW 2048 VMFSSPARSE "web_2-000001-delta.vmdk"`))},
		"web/vmware.log":        {Data: []byte("2024-01-02T03:04:05Z In(05) vmx - Log for VMware ESX\n")},
		"web/web.nvram":         {Data: append([]byte("NVRAM\x00\x00\x00"), bytes.Repeat([]byte{0}, 100)...)},
		"web/link":              {Data: []byte("web.vmx"), Mode: fs.ModeSymlink},
	}
}

func TestVMXSummary(t *testing.T) {
	r, err := Preview(context.Background(), vmFS(), "web/web.vmx", Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := r.VMX
	if r.Kind != KindVMX || v == nil {
		t.Fatalf("kind %q, vmx %v", r.Kind, v)
	}
	if v.Name != `web "prod" 01` || v.GuestOS != "ubuntu-64" || v.CPUs != 4 || v.CoresPerSocket != 2 ||
		v.MemoryMB != 8192 || v.HardwareVersion != "19" || v.Firmware != "efi" {
		t.Errorf("summary %+v", v)
	}
	type want struct {
		dev, path       string
		found, complete bool
		missing         int
		capacity        int64
	}
	wants := []want{
		{"ide1:0", "", false, false, 0, 0},
		{"sata0:0", "/iso/ubuntu.iso", false, false, 1, 0},
		{"scsi0:0", "/web/web.vmdk", true, true, 0, 8 << 20},
		{"scsi0:1", "/web/web_1.vmdk", true, false, 1, 1 << 20},
		{"scsi0:10", "/web/web_2-000001.vmdk", true, false, 2, 1 << 20},
	}
	if len(v.Disks) != len(wants) {
		t.Fatalf("%d disks, want %d: %+v", len(v.Disks), len(wants), v.Disks)
	}
	for i, w := range wants {
		d := v.Disks[i]
		if d.Device != w.dev || d.Path != w.path || d.Found != w.found || d.Complete != w.complete || len(d.Missing) != w.missing || d.Capacity != w.capacity {
			t.Errorf("disk %d = %+v, want %+v", i, d, w)
		}
	}
	if len(v.NICs) != 3 {
		t.Fatalf("NICs %+v", v.NICs)
	}
	// startConnected defaults to TRUE when absent; only FALSE turns it off.
	if n := v.NICs[2]; n.Device != "ethernet3" || n.Connected || n.ConnectedByDefault {
		t.Errorf("ethernet3 %+v", n)
	}
	if n := v.NICs[0]; n.Device != "ethernet0" || n.Type != "vmxnet3" || n.Network != "VM Network" || n.MAC != "00:0c:29:aa:bb:cc" || !n.Connected {
		t.Errorf("ethernet0 %+v", n)
	}
	if n := v.NICs[1]; n.Type != "vlance" || n.MAC != "00:50:56:00:00:01" || n.AddressType != "static" || !n.Connected || !n.ConnectedByDefault {
		t.Errorf("ethernet1 %+v", n)
	}
	if !strings.Contains(r.Text, "displayName") {
		t.Errorf("vmx text not shown")
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`Virtual machine "web \"prod\" 01"`, "CPUs:      4 (2 per socket)", "memory:    8192 MiB",
		"scsi0:1", "INCOMPLETE", "missing: /web/web_1-flat.vmdk", "MISSING", "vmxnet3", `"VM Network"`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestVMDKSummary(t *testing.T) {
	r, err := Preview(context.Background(), vmFS(), "web/web.vmdk", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := r.VMDK
	if r.Kind != KindVMDK || s == nil || s.Error != "" {
		t.Fatalf("kind %q summary %+v", r.Kind, s)
	}
	if s.Capacity != 8<<20 || s.CreateType != "vmfs" || !s.Thin || len(s.Extents) != 1 || len(s.Chain) != 1 || len(s.Missing) != 0 {
		t.Errorf("summary %+v", s)
	}
	if s.Allocated <= 0 || s.Allocated > s.Capacity {
		t.Errorf("allocated %d of %d", s.Allocated, s.Capacity)
	}
	if s.Table == nil || s.Table.Scheme != "mbr" || len(s.Table.Partitions) != 2 {
		t.Fatalf("table %+v", s.Table)
	}
	if p := s.Table.Partitions[0]; p.FS != partition.FSNTFS || p.Start != 2048*512 {
		t.Errorf("partition 1 %+v", p)
	}
	if p := s.Table.Partitions[1]; p.FS != partition.FSExt4 || p.Size != 8192*512 {
		t.Errorf("partition 2 %+v", p)
	}
	if !strings.Contains(r.Text, "createType") {
		t.Errorf("descriptor text not shown: %q", r.Text)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	parts := back["vmdk"].(map[string]any)["partition_table"].(map[string]any)["partitions"].([]any)
	if p := parts[1].(map[string]any); p["fs"] != "ext4" || p["start"] != float64(8192*512) {
		t.Errorf("JSON partition %v", p)
	}
}

func TestVMDKMissingParts(t *testing.T) {
	s := SummarizeVMDK(context.Background(), vmFS(), "web/web_2-000001.vmdk", Options{})
	if s.Error != "" {
		t.Fatal(s.Error)
	}
	if len(s.Missing) != 2 || s.Missing[0] != "/web/web_2-000001-delta.vmdk" || s.Missing[1] != "parent web_2.vmdk" {
		t.Errorf("missing %q", s.Missing)
	}
	var out bytes.Buffer
	r := &Result{Path: "/x.vmdk", Kind: KindVMDK, VMDK: s}
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "MISSING (read as zeros): /web/web_2-000001-delta.vmdk, parent web_2.vmdk") {
		t.Errorf("output:\n%s", out.String())
	}
	// Not a VMDK at all: reported in the summary, not as an error.
	fsys := fstest.MapFS{"a.vmdk": {Data: []byte("# Disk DescriptorFile\nnothing here\n")}}
	r2, err := Preview(context.Background(), fsys, "a.vmdk", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r2.VMDK.Error == "" {
		t.Errorf("no error for a descriptor without extents: %+v", r2.VMDK)
	}
}

func TestTextAndHex(t *testing.T) {
	ctx := context.Background()
	r, err := Preview(ctx, vmFS(), "web/vmware.log", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindText || !strings.HasPrefix(r.Text, "2024-01-02") || r.Truncated {
		t.Errorf("log preview %+v", r)
	}
	r, err = Preview(ctx, vmFS(), "web/web.nvram", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "00000000  4e 56 52 41 4d 00 00 00  00 00 00 00 00 00 00 00  |NVRAM...........|\n" +
		"00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n" +
		"*\n" +
		"00000060  00 00 00 00 00 00 00 00  00 00 00 00              |............|\n" +
		"0000006c\n"
	if r.Kind != KindBinary || r.Hex != want || r.Shown != 108 {
		t.Errorf("hex preview kind %q shown %d:\n%s\nwant\n%s", r.Kind, r.Shown, r.Hex, want)
	}
	// Capped, with an offset: the dump says where it is.
	r, err = Preview(ctx, vmFS(), "web/web-flat.vmdk", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindVMDK || r.VMDK.Kind == "" || r.Text != "" {
		t.Errorf("flat preview %+v", r)
	}
	r, err = Preview(ctx, vmFS(), "web/web.nvram", Options{Offset: 2, MaxHex: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Hex, "00000002  52 41 4d 00") || !r.Truncated || r.Shown != 4 {
		t.Errorf("window:\n%s %+v", r.Hex, r)
	}
	// Text capped at a character boundary.
	fsys := fstest.MapFS{"a.txt": {Data: []byte("aé€")}}
	r, err = Preview(ctx, fsys, "a.txt", Options{MaxText: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "aé" || r.Shown != 3 || !r.Truncated {
		t.Errorf("cut %q shown %d", r.Text, r.Shown)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "3 more bytes not shown") {
		t.Errorf("output:\n%s", out.String())
	}
	// Offset past the end shows nothing, without error.
	r, err = Preview(ctx, fsys, "a.txt", Options{Offset: 100})
	if err != nil || r.Shown != 0 {
		t.Errorf("past end: %v %+v", err, r)
	}
}

func TestDirLinkAndErrors(t *testing.T) {
	ctx := context.Background()
	r, err := Preview(ctx, vmFS(), "web", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindDir || len(r.Entries) != 8 || r.Entries[0].Name != "link" {
		t.Errorf("dir %+v", r.Entries)
	}
	_, err = Preview(ctx, vmFS(), "web/nothing", Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	_, err = Preview(ctx, vmFS(), "web/web.vmx", Options{Offset: -1})
	if err == nil {
		t.Errorf("negative offset accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Preview(cctx, vmFS(), "web/web.vmx", Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestHexDumpMatchesHexdump compares HexDump with hexdump -C (bsdmainutils
// or util-linux) on data with repeated lines and a short last line.
func TestHexDumpMatchesHexdump(t *testing.T) {
	hexdump := testenv.Tool(t, "hexdump")
	b := make([]byte, 1000)
	for i := range b {
		if i < 300 || i > 700 {
			b[i] = byte(i * 7)
		}
	}
	cmd := exec.Command(hexdump, "-C")
	cmd.Stdin = bytes.NewReader(b)
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := HexDump(b, 0); got != string(want) {
		t.Errorf("HexDump:\n%s\nhexdump -C:\n%s", got, want)
	}
}

func TestLooksText(t *testing.T) {
	for _, c := range []struct {
		b    string
		want bool
	}{
		{"", true},
		{"plain\nlines\r\n\ttab", true},
		{"utf-8 é €", true},
		{"cut at the end \xe2\x82", true},
		{"nul\x00", false},
		{"bad \xff utf-8 in the middle", false},
		{strings.Repeat("\x01", 10) + strings.Repeat("a", 100), false},
	} {
		if got := looksText([]byte(c.b)); got != c.want {
			t.Errorf("looksText(%q) = %v", c.b, got)
		}
	}
}

func TestParseVMX(t *testing.T) {
	m := ParseVMX([]byte("A.B = \"x|7Cy\"\r\nnoequals\n  c=unquoted \n#x = \"1\"\nd = \"trailing\" # c\nbad = \"|zz|2\"\n"))
	for k, want := range map[string]string{"a.b": "x|y", "c": "unquoted", "d": "trailing", "bad": "|zz|2"} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q", k, m[k], want)
		}
	}
	if _, ok := m["#x"]; ok || len(m) != 4 {
		t.Errorf("map %q", m)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 200 << 20: "200 MiB", 8 << 40: "8 TiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParseVMX(f *testing.F) {
	f.Add([]byte(vmxText))
	f.Add([]byte("a = \"|\"\nb=\"\n=\"x\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsys := fstest.MapFS{"vm/vm.vmx": {Data: b}, "vm/vm.vmdk": {Data: []byte(descriptor("vmfs", "", "ffffffff", `RW 8 VMFS "vm-flat.vmdk"`))}}
		r, err := Preview(context.Background(), fsys, "vm/vm.vmx", Options{MaxText: 64})
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind == KindVMX && r.VMX.CPUs < 1 {
			t.Errorf("CPUs %d", r.VMX.CPUs)
		}
		if err := r.WriteText(&bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzHexDump(f *testing.F) {
	f.Add([]byte("NVRAM\x00\x00"), int64(0))
	f.Add(bytes.Repeat([]byte{0}, 64), int64(16))
	f.Fuzz(func(t *testing.T, b []byte, base int64) {
		if base < 0 || base > 1<<50 {
			return
		}
		d := HexDump(b, base)
		if len(b) > 0 && !strings.HasSuffix(d, "\n") {
			t.Errorf("dump does not end a line")
		}
	})
}

// TestVMDKChainSample previews the committed qemu-img snapshot chain (a
// monolithicSparse child over its base), whole and with its base gone.
func TestVMDKChainSample(t *testing.T) {
	dir := testenv.Testdata(t, "vmdk", "samples", "chain")
	r, err := Preview(context.Background(), os.DirFS(dir), "child.vmdk", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := r.VMDK
	if s.Error != "" || len(s.Chain) != 2 || s.Chain[1].Path != "base.vmdk" || len(s.Missing) != 0 || s.Capacity != 527872 || s.Allocated != 462336 || r.Text != "" {
		t.Errorf("chain %+v", s)
	}
	child, err := os.ReadFile(filepath.Join(dir, "child.vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	s = SummarizeVMDK(context.Background(), fstest.MapFS{"child.vmdk": {Data: child}}, "child.vmdk", Options{})
	if s.Error != "" || len(s.Chain) != 1 || !slices.Equal(s.Missing, []string{"parent base.vmdk"}) {
		t.Errorf("without base %+v", s)
	}
}

// FuzzPreview previews arbitrary bytes as a VMDK, a log and an unnamed
// file: whatever the content, a result or an error, never a panic, and the
// shown window stays inside the caps.
func FuzzPreview(f *testing.F) {
	f.Add([]byte(descriptor("vmfs", "", "ffffffff", `RW 16 VMFS "x-flat.vmdk"`)), uint8(0))
	f.Add(guestDisk()[:1024], uint8(2))
	f.Add([]byte("KDMV\x01\x00\x00\x00"), uint8(0))
	f.Add([]byte("line\n\x00binary"), uint8(1))
	flat := guestDisk()[:8192]
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		name := []string{"d/x.vmdk", "d/vmware.log", "d/blob"}[int(kind)%3]
		fsys := fstest.MapFS{name: {Data: b}, "d/x-flat.vmdk": {Data: flat}}
		r, err := Preview(context.Background(), fsys, name, Options{MaxText: 100, MaxHex: 64})
		if err != nil {
			return
		}
		if r.Shown > 100 || (r.Kind == KindBinary && r.Shown > 64) || r.Shown > int64(len(b)) {
			t.Errorf("shown %d of %d (%s)", r.Shown, len(b), r.Kind)
		}
		if err := r.WriteText(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}

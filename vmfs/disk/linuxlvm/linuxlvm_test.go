package linuxlvm

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// sampleHead is the first MiB of the first of two 64 MiB PVs of a group
// that lvm2 2.03.16 made (pvcreate, vgcreate -s 1M fltest, lvcreate lin
// 8M on it, str -i2 -I64 16M over both, snap 4M converted by lvconvert -s
// into a snapshot of lin): its label and its metadata area. The rest of
// the PV, and the second PV, are not kept; the test puts the head on a
// sparse 64 MiB device.
func sampleHead(t testing.TB) []byte {
	f, err := os.Open("testdata/lvm2-pv0-of-2-head.img.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sparse is a device of size bytes whose first bytes are head, zeros
// after.
type sparse struct {
	head []byte
	size int64
}

func (s *sparse) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), s.size-off)
	clear(p[:n])
	if off < int64(len(s.head)) {
		copy(p[:n], s.head[off:])
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

func sampleDevice(head []byte) Device {
	return Device{Name: "pv0.img", R: &sparse{head, 64 << 20}, Size: 64 << 20}
}

func TestSample(t *testing.T) {
	vgs, err := Find([]Device{sampleDevice(sampleHead(t))})
	if err != nil {
		t.Fatal(err)
	}
	if len(vgs) != 1 {
		t.Fatalf("%d groups", len(vgs))
	}
	vg := vgs[0]
	if vg.Name != "fltest" || vg.UUID != "k6PWTz-Ylvh-1blT-HWyL-sff0-b38Z-AHhhdd" || vg.Seqno != 5 || vg.ExtentSize != 1<<20 {
		t.Errorf("group %+v", vg)
	}
	if len(vg.Missing) != 1 || vg.Missing[0].Name != "pv1" || vg.Missing[0].LastDevice != "/dev/loop1" || vg.Missing[0].UUID != "CIByt6-ysKQ-3FOw-bu6w-qMBP-cHkO-jzOC6t" {
		t.Errorf("missing %+v", vg.Missing)
	}
	var got []string
	for _, lv := range vg.LVs {
		got = append(got, fmt.Sprintf("%s %s %d %s %v", lv.Name, lv.Type, lv.Size, lv.Origin, lv.MissingPVs))
	}
	want := []string{"lin linear 8388608  []", "snap snapshot 8388608 lin []", "str striped 16777216  [pv1]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LVs\n%q, want\n%q", got, want)
	}
}

func TestLabelDamage(t *testing.T) {
	head := sampleHead(t)
	for _, c := range []struct {
		name  string
		off   int
		class error
		st    string
	}{
		{"label checksum", 512 + 40, ErrCorrupt, "LVM label"},
		{"label type", 512 + 24, ErrUnsupported, "LVM label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(head)
			b[c.off] ^= 0x55
			vgs, err := Find([]Device{sampleDevice(b)})
			var fe *ondisk.FormatError
			if len(vgs) != 0 || !errors.Is(err, c.class) || !errors.As(err, &fe) || fe.Struct != c.st {
				t.Errorf("%d groups, error %v", len(vgs), err)
			}
		})
	}
	// A damaged area header or current text: the texts left in the
	// area's circular buffer are scanned. The header lost, the current
	// text (seqno 5) is found; the current text damaged, the one before it
	// (seqno 4, before lvconvert made the snapshot).
	for _, c := range []struct {
		name string
		off  int
		seq  int64
		lvs  int
	}{
		{"area header", 4096 + 30, 5, 3},
		{"current text", 4096 + 7168 + 100, 4, 3},
		{"no text left", -1, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(head)
			if c.off < 0 {
				clear(b[4096 : 1<<20])
			} else {
				b[c.off] ^= 0x55
			}
			vgs, err := Find([]Device{sampleDevice(b)})
			if c.seq == 0 {
				if len(vgs) != 0 || !errors.Is(err, ErrCorrupt) {
					t.Errorf("%d groups, error %v", len(vgs), err)
				}
				return
			}
			if err != nil || len(vgs) != 1 || vgs[0].Seqno != c.seq || len(vgs[0].LVs) != c.lvs || !strings.Contains(strings.Join(vgs[0].Warnings, "\n"), "scanning") {
				t.Fatalf("error %v, groups %+v", err, *vgs[0])
			}
		})
	}
	// The same PV given twice (a copy of the disk beside it): one is read,
	// with a warning.
	if vgs, err := Find([]Device{sampleDevice(head), sampleDevice(head)}); err != nil || len(vgs) != 1 || len(vgs[0].Warnings) != 1 || !strings.Contains(vgs[0].Warnings[0], "again") {
		t.Errorf("PV given twice: %v, %v", vgs, err)
	}
	// A device without a label is no PV, and no error.
	if vgs, err := Find([]Device{sampleDevice(make([]byte, 4096))}); len(vgs) != 0 || err != nil {
		t.Errorf("blank device: %v, %v", vgs, err)
	}
}

// metadataVG builds a group from metadata text whose PVs pv0 and pv1 are
// the given devices.
func metadataVG(t *testing.T, text string, devs ...*Device) *VG {
	t.Helper()
	cfg, err := parseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	s, err := vgSection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]*Device{}
	for i, d := range devs {
		labels[canonicalUUID(fmt.Sprintf("pv%d-uuid", i))] = d
	}
	vg, err := buildVG(s, cfg, labels)
	if err != nil {
		t.Fatal(err)
	}
	return vg
}

const thinAndRaid = `# made by hand after lvm2's thin and raid1 layouts
vg1 {
	id = "vg1-uuid"
	seqno = 9
	extent_size = 8192
	physical_volumes {
		pv0 { id = "pv0-uuid" device = "/dev/sdb" pe_start = 2048 pe_count = 100 }
	}
	logical_volumes {
		pool { id = "pool-uuid" status = ["READ", "WRITE", "VISIBLE"] segment_count = 1
			segment1 { start_extent = 0 extent_count = 10 type = "thin-pool" metadata = "pool_tmeta" pool = "pool_tdata" transaction_id = 1 chunk_size = 128 }
		}
		thin1 { id = "thin1-uuid" status = ["READ", "WRITE", "VISIBLE"] segment_count = 1
			segment1 { start_extent = 0 extent_count = 20 type = "thin" thin_pool = "pool" transaction_id = 0 device_id = 1 }
		}
		r1 { id = "r1-uuid" status = ["READ", "WRITE", "VISIBLE"] segment_count = 1
			segment1 { start_extent = 0 extent_count = 4 type = "raid1" device_count = 2 raids = ["r1_rmeta_0", "r1_rimage_0", "r1_rmeta_1", "r1_rimage_1"] }
		}
		pool_tdata { id = "x" status = ["READ", "WRITE"] segment_count = 1
			segment1 { start_extent = 0 extent_count = 10 type = "striped" stripe_count = 1 stripes = ["pv0", 0] }
		}
		zeros { id = "z" status = ["READ", "VISIBLE"] segment_count = 1
			segment1 { start_extent = 0 extent_count = 1 type = "zero" }
		}
	}
}
contents = "Text Format Volume Group"
version = 1
`

func TestRefused(t *testing.T) {
	dev := &Device{Name: "sdb", R: bytes.NewReader(make([]byte, 200<<20)), Size: 200 << 20}
	vg := metadataVG(t, thinAndRaid, dev)
	var names []string
	for _, lv := range vg.LVs {
		names = append(names, lv.Name+" "+lv.Type)
		_, err := lv.ReadAt(make([]byte, 512), 0)
		switch lv.Name {
		case "zeros":
			if err != nil || lv.Unsupported != nil {
				t.Errorf("zero LV: %v", err)
			}
		default:
			if !errors.Is(err, ErrUnsupported) || !errors.Is(lv.Unsupported, ErrUnsupported) || !strings.Contains(err.Error(), lv.Type) {
				t.Errorf("%s (%s) reads: %v", lv.Name, lv.Type, err)
			}
		}
	}
	// Hidden LVs (the pool's data) are not listed.
	if want := []string{"pool thin-pool", "r1 raid1", "thin1 thin", "zeros linear"}; !reflect.DeepEqual(names, want) {
		t.Errorf("LVs %q, want %q", names, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, text := range []string{
		`vg { id = "x" `,
		`vg { id = "x" } }`,
		`vg { id = ["a", ["b"]] }`,
		`vg { id = "unterminated }`,
		`vg { id = }`,
		`vg { = 3 }`,
		strings.Repeat("a {", 40) + strings.Repeat("}", 40),
	} {
		_, err := parseConfig([]byte(text))
		var fe *ondisk.FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(fe.Struct, "LVM metadata line") {
			t.Errorf("%q: %v", text, err)
		}
	}
	cfg, err := parseConfig([]byte("a {\n  s = \"q\\\"uote\\\\d\" # comment\n  n = -12\n  f = 1.5\n  l = [1, \"two\"]\n  e = []\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.sub("a")
	want := map[string]any{"s": `q"uote\d`, "n": int64(-12), "f": 1.5, "l": []any{int64(1), "two"}, "e": []any(nil)}
	if !reflect.DeepEqual(a.values, want) {
		t.Errorf("values %#v, want %#v", a.values, want)
	}
}

// format writes a section back as text that parseConfig reads.
func format(s *section, b *strings.Builder) {
	keys := make([]string, 0, len(s.values))
	for k := range s.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var value func(v any)
	value = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`)
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		case []any:
			b.WriteString("[")
			for i, x := range v {
				if i > 0 {
					b.WriteString(", ")
				}
				value(x)
			}
			b.WriteString("]")
		}
	}
	for _, k := range keys {
		b.WriteString(k + " = ")
		value(s.values[k])
		b.WriteString("\n")
	}
	for _, sub := range s.subs {
		b.WriteString(sub.name + " {\n")
		format(sub, b)
		b.WriteString("}\n")
	}
}

// FuzzParseConfig: what parses, written back, parses to the same tree.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(thinAndRaid))
	head := sampleHead(f)
	f.Add(head[4096+7168 : 4096+7168+2152])
	f.Fuzz(func(t *testing.T, text []byte) {
		cfg, err := parseConfig(text)
		if err != nil {
			var fe *ondisk.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is no FormatError", err)
			}
			return
		}
		var b strings.Builder
		format(cfg, &b)
		again, err := parseConfig([]byte(b.String()))
		if err != nil {
			t.Fatalf("written back, %q fails: %v", b.String(), err)
		}
		var b2 strings.Builder
		format(again, &b2)
		if b.String() != b2.String() {
			t.Fatalf("round trip differs:\n%s\n%s", b.String(), b2.String())
		}
	})
}

// FuzzFind: whatever the damage to the label and the metadata, Find
// answers, and a volume's strict read, where it succeeds, agrees with its
// tolerant read.
func FuzzFind(f *testing.F) {
	head := sampleHead(f)
	f.Add(head[:16384])
	f.Add(bytes.Join([][]byte{head[:4096+7168], []byte(thinAndRaid)}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 16<<10 { // the label, the area header and the text
			return
		}
		d := bytes.Clone(head)
		copy(d, b)
		vgs, _ := Find([]Device{sampleDevice(d)})
		for _, vg := range vgs {
			for _, lv := range vg.LVs {
				for _, off := range []int64{0, lv.Size / 2, lv.Size - 100} {
					if off < 0 {
						continue
					}
					p, q := make([]byte, 4096), make([]byte, 4096)
					n, err := lv.ReadAt(p, off)
					m, terr := lv.Tolerant().ReadAt(q, off)
					if lv.Unsupported != nil {
						if err == nil || terr == nil {
							t.Fatalf("%s: unsupported volume reads", lv)
						}
						continue
					}
					if errors.Is(terr, ErrMissingPV) {
						t.Fatalf("%s: tolerant read fails on a missing PV: %v", lv, terr)
					}
					if err == nil && (terr != nil || !bytes.Equal(p[:n], q[:m])) {
						t.Fatalf("%s at %d: strict and tolerant reads differ (%v)", lv, off, terr)
					}
				}
			}
		}
	})
}

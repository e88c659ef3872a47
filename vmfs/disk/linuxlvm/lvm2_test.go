package linuxlvm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// lvmHost runs lvm2 on loop devices over image files, without
// device-mapper (--driverloaded n: LVs are created but not activated, so
// the test writes their content at the extents lvs reports).
type lvmHost struct {
	t     *testing.T
	imgs  []string // image files
	loops []string // their loop devices
	conf  string
}

func newLVMHost(t *testing.T, sizesMB ...int) *lvmHost {
	testenv.Tool(t, "lvm")
	losetup := testenv.Tool(t, "losetup")
	h := &lvmHost{t: t}
	dir := t.TempDir()
	var accept []string
	for i, mb := range sizesMB {
		img := filepath.Join(dir, fmt.Sprintf("pv%d.img", i))
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, int64(mb)<<20); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(losetup, "-f", "--show", img).CombinedOutput()
		if err != nil {
			testenv.Lacks(t, "no loop device for lvm2 (losetup needs root and /dev/loop*): %v %s", err, out)
		}
		loop := strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command(losetup, "-d", loop).Run() })
		h.imgs = append(h.imgs, img)
		h.loops = append(h.loops, loop)
		accept = append(accept, fmt.Sprintf(`"a|^%s$|"`, loop))
	}
	// Only our loop devices, no udev, no device-mapper.
	h.conf = fmt.Sprintf(`devices { filter = [ %s, "r|.*|" ] obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 }`, strings.Join(accept, ", "))
	return h
}

func (h *lvmHost) lvm(args ...string) []byte {
	h.t.Helper()
	args = append([]string{args[0], "--driverloaded", "n", "--config", h.conf}, args[1:]...)
	cmd := exec.Command("lvm", args...)
	cmd.Env = append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("lvm %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// removeVG is the cleanup of a group made by a test.
func (h *lvmHost) removeVG(name string) {
	h.t.Cleanup(func() {
		cmd := exec.Command("lvm", "vgremove", "--driverloaded", "n", "--config", h.conf, "-f", name)
		cmd.Env = append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1")
		cmd.Run()
	})
}

func (h *lvmHost) devices(which ...int) []Device {
	var out []Device
	for _, i := range which {
		f, err := os.Open(h.imgs[i])
		if err != nil {
			h.t.Fatal(err)
		}
		h.t.Cleanup(func() { f.Close() })
		fi, _ := f.Stat()
		out = append(out, Device{Name: h.loops[i], R: f, Size: fi.Size()})
	}
	return out
}

// report runs an lvm reporting command and returns its rows.
func (h *lvmHost) report(cmd, kind string, args ...string) []map[string]string {
	out := h.lvm(append([]string{cmd, "--reportformat", "json", "--units", "b", "--nosuffix"}, args...)...)
	var r struct {
		Report []map[string][]map[string]string `json:"report"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		h.t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return r.Report[0][kind]
}

func num(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fill writes a pattern over LVs of a group at the extents lvs reports,
// striping as dm-stripe does, and returns each LV's content.
func (h *lvmHost) fill(vg string, extent int64, lvs ...string) map[string][]byte {
	t := h.t
	peStart := map[string]int64{}
	for _, pv := range h.report("pvs", "pv", "-o", "pv_name,pe_start") {
		peStart[pv["pv_name"]] = num(t, pv["pe_start"])
	}
	files := map[string]*os.File{}
	for i, loop := range h.loops {
		f, err := os.OpenFile(h.imgs[i], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[loop] = f
	}
	content := map[string][]byte{}
	for _, seg := range h.report("lvs", "seg", "--segments", "-o", "lv_name,seg_start_pe,seg_size_pe,seg_pe_ranges,stripes,stripe_size,segtype", vg) {
		name := seg["lv_name"]
		if !slices.Contains(lvs, name) {
			continue
		}
		start, size := num(t, seg["seg_start_pe"])*extent, num(t, seg["seg_size_pe"])*extent
		k, unit := num(t, seg["stripes"]), num(t, seg["stripe_size"])
		if k == 1 {
			unit = size
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(int64(i)+start) ^ byte(len(name)*37) ^ byte((int64(i)+start)>>12)
		}
		content[name] = append(content[name], data...)
		ranges := strings.Fields(seg["seg_pe_ranges"])
		for u := int64(0); u*unit < size; u++ {
			r := ranges[u%k] // "/dev/loop0:8-15"
			dev, span, _ := strings.Cut(r, ":")
			first, _, _ := strings.Cut(span, "-")
			off := peStart[dev] + num(t, first)*extent + (u/k)*unit
			if _, err := files[dev].WriteAt(data[u*unit:(u+1)*unit], off); err != nil {
				t.Fatal(err)
			}
		}
	}
	return content
}

func readAll(t *testing.T, r io.ReaderAt, size int64) []byte {
	t.Helper()
	b := make([]byte, size)
	// Odd-sized reads cross stripe and segment boundaries.
	for off := int64(0); off < size; {
		n := min(size-off, 100003)
		if _, err := r.ReadAt(b[off:off+n], off); err != nil && err != io.EOF {
			t.Fatalf("at %d: %v", off, err)
		}
		off += n
	}
	return b
}

func TestLVM2(t *testing.T) {
	h := newLVMHost(t, 40, 40)
	vgName := fmt.Sprintf("vmfsrtest%d", os.Getpid())
	a, b := h.loops[0], h.loops[1]
	h.lvm("pvcreate", "-y", "--metadatacopies", "2", a)
	h.lvm("pvcreate", "-y", b)
	h.lvm("vgcreate", "-s", "1M", vgName, a, b)
	h.removeVG(vgName)
	create := func(args ...string) {
		h.lvm(append([]string{"lvcreate", "-y", "-an", "-Zn"}, args...)...)
	}
	create("-n", "lin", "-L", "6M", vgName, a)
	create("-n", "str", "-i2", "-I64", "-L", "8M", vgName)
	create("-n", "multi", "-L", "2M", vgName, b)
	h.lvm("lvextend", "-L", "+3M", vgName+"/multi", a)
	create("-n", "cow", "-L", "4M", vgName, b)
	h.lvm("lvconvert", "-y", "-Zn", "-s", vgName+"/lin", vgName+"/cow")
	content := h.fill(vgName, 1<<20, "lin", "str", "multi")

	vgs, err := Find(h.devices(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(vgs) != 1 {
		t.Fatalf("%d groups", len(vgs))
	}
	vg := vgs[0]
	want := h.report("vgs", "vg", "-o", "vg_name,vg_uuid,vg_extent_size,vg_seqno", vgName)[0]
	if vg.Name != vgName || vg.UUID != want["vg_uuid"] || vg.ExtentSize != num(t, want["vg_extent_size"]) || vg.Seqno != num(t, want["vg_seqno"]) || len(vg.Missing) != 0 || len(vg.PVs) != 2 {
		t.Errorf("group %+v, lvm says %v", vg, want)
	}
	lvs := h.report("lvs", "lv", "-o", "lv_name,lv_uuid,lv_size,origin", vgName)
	if len(vg.LVs) != len(lvs) {
		t.Errorf("%d LVs, lvm lists %d: %v", len(vg.LVs), len(lvs), lvs)
	}
	byName := map[string]*LV{}
	for _, lv := range vg.LVs {
		byName[lv.Name] = lv
	}
	for _, w := range lvs {
		lv := byName[w["lv_name"]]
		if lv == nil {
			t.Errorf("LV %s not found", w["lv_name"])
			continue
		}
		size := lv.Size
		if lv.Origin != "" {
			size = lv.StoreSize // lvs shows a snapshot's store
		}
		if lv.UUID != w["lv_uuid"] || size != num(t, w["lv_size"]) || lv.Origin != w["origin"] || lv.Unsupported != nil {
			t.Errorf("LV %+v, lvm says %v", lv, w)
		}
	}
	for name, typ := range map[string]string{"lin": "linear", "str": "striped", "multi": "linear", "cow": "snapshot"} {
		if lv := byName[name]; lv == nil || lv.Type != typ {
			t.Errorf("LV %s: type %v, want %s", name, lv, typ)
		}
	}
	for _, name := range []string{"lin", "str", "multi"} {
		if got := readAll(t, byName[name], byName[name].Size); !bytes.Equal(got, content[name]) {
			t.Errorf("LV %s: content differs", name)
		}
	}

	// The snapshot was never activated: its store's header is zeros, and
	// it reads as its origin.
	snap := byName["cow"]
	if snap.Size != byName["lin"].Size {
		t.Errorf("snapshot of %d bytes, origin of %d", snap.Size, byName["lin"].Size)
	}
	if got := readAll(t, snap, snap.Size); !bytes.Equal(got, content["lin"]) {
		t.Errorf("snapshot without exceptions differs from its origin")
	}

	t.Run("exceptions", func(t *testing.T) {
		// Write a store as dm-snapshot does after the origin's chunk 5
		// changed: the header, one area mapping chunk 5 to store chunk 2,
		// the old data there.
		const chunk = 4096 // lvconvert's default: 8 sectors
		store := make([]byte, 3*chunk)
		binary.LittleEndian.PutUint32(store[0:], snapMagic)
		binary.LittleEndian.PutUint32(store[4:], 1)
		binary.LittleEndian.PutUint32(store[8:], 1)
		binary.LittleEndian.PutUint32(store[12:], chunk/512)
		binary.LittleEndian.PutUint64(store[chunk:], 5)
		binary.LittleEndian.PutUint64(store[chunk+8:], 2)
		old := bytes.Repeat([]byte("before the change "), chunk/18+1)[:chunk]
		copy(store[2*chunk:], old)
		cowSeg := h.report("lvs", "seg", "--segments", "-a", "-o", "lv_name,seg_pe_ranges", vgName+"/cow")[0]
		dev, span, _ := strings.Cut(cowSeg["seg_pe_ranges"], ":")
		first, _, _ := strings.Cut(span, "-")
		var pe int64
		for _, pv := range h.report("pvs", "pv", "-o", "pv_name,pe_start") {
			if pv["pv_name"] == dev {
				pe = num(t, pv["pe_start"])
			}
		}
		f, err := os.OpenFile(h.imgs[map[string]int{a: 0, b: 1}[dev]], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(store, pe+num(t, first)<<20); err != nil {
			t.Fatal(err)
		}
		vgs, err := Find(h.devices(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		var snap *LV
		for _, lv := range vgs[0].LVs {
			if lv.Name == "cow" {
				snap = lv
			}
		}
		want := bytes.Clone(content["lin"])
		copy(want[5*chunk:], old)
		if got := readAll(t, snap, snap.Size); !bytes.Equal(got, want) {
			t.Errorf("snapshot with one exception differs")
		}
	})

	t.Run("missing PV", func(t *testing.T) {
		vgs, err := Find(h.devices(0))
		if err != nil {
			t.Fatal(err)
		}
		vg := vgs[0]
		if len(vg.Missing) != 1 || vg.Missing[0].LastDevice != b {
			t.Fatalf("missing %+v", vg.Missing)
		}
		for _, lv := range vg.LVs {
			switch lv.Name {
			case "lin":
				if len(lv.MissingPVs) != 0 || !bytes.Equal(readAll(t, lv, lv.Size), content["lin"]) {
					t.Errorf("lin, all on the PV given: missing %v", lv.MissingPVs)
				}
			case "str":
				_, err := lv.ReadAt(make([]byte, lv.Size), 0)
				if !errors.Is(err, ErrMissingPV) || !strings.Contains(err.Error(), vg.Missing[0].UUID) {
					t.Errorf("striped over a missing PV: %v", err)
				}
				got := readAll(t, lv.Tolerant(), lv.Size)
				want := bytes.Clone(content["str"])
				for u := 1; u*65536 < len(want); u += 2 {
					clear(want[u*65536 : (u+1)*65536])
				}
				if !bytes.Equal(got, want) {
					t.Errorf("tolerant striped read: the missing PV's stripes are not zeros, or the others differ")
				}
			}
		}
	})

	t.Run("damaged metadata copy", func(t *testing.T) {
		// Zero the text of the first metadata area of both PVs: the copy at
		// the end of the first PV (--metadatacopies 2) still holds it.
		dmg := h.devices(0, 1)
		for i := range dmg {
			img, _ := os.ReadFile(h.imgs[i])
			l, _, err := readLabel(bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatal(err)
			}
			m := l.metadata[0]
			clear(img[m.offset+mdaHeaderSize : m.offset+m.size])
			dmg[i].R = bytes.NewReader(img)
		}
		vgs, err := Find(dmg)
		if err != nil {
			t.Fatal(err)
		}
		if len(vgs) != 1 || len(vgs[0].LVs) != 4 || len(vgs[0].Warnings) == 0 {
			t.Fatalf("groups %+v", vgs)
		}
		t.Logf("warnings: %q", vgs[0].Warnings)
	})
}

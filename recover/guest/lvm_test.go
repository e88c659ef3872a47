package guest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
)

// lvmOn runs lvm2 on the given loop devices only, without udev or
// device-mapper (--driverloaded n: logical volumes are created but not
// activated; the test writes their content at the extents lvs reports).
func lvmOn(t *testing.T, loops []string, args ...string) []byte {
	t.Helper()
	var accept []string
	for _, l := range loops {
		accept = append(accept, fmt.Sprintf(`"a|^%s$|"`, l))
	}
	conf := fmt.Sprintf(`devices { filter = [ %s, "r|.*|" ] obtain_device_list_from_udev = 0 } activation { udev_sync = 0 udev_rules = 0 }`, strings.Join(accept, ", "))
	cmd := exec.Command(testenv.Tool(t, "lvm"), append([]string{args[0], "--driverloaded", "n", "--config", conf}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lvm %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// Two disks of one VM, each an MBR with one partition of type 8e (LVM)
// made by sfdisk; a volume group made by lvm2 spans both, and its
// logical volume "data", larger than either disk, holds ext4 made by
// mkfs.ext4 -d. Given together, the disks show vm1.img@/p1,
// vm1_1.img@/p1 and lvm/VG/data with every file's sha256 equal to what
// debugfs reads; given alone, the first disk's group says which physical
// volume is missing.
func TestLVMSpanningTwoDisks(t *testing.T) {
	losetup := testenv.Tool(t, "losetup")
	testenv.Tool(t, "lvm")
	const part = 1 << 20
	imgs := []string{sparseImage(t, "vm1.img", 48<<20), sparseImage(t, "vm1_1.img", 48<<20)}
	var loops []string
	for _, img := range imgs {
		guesttest.Run(t, "label: dos\nstart=2048, type=8e\n", "sfdisk", "-q", img)
		out, err := exec.Command(losetup, "-f", "--show", "-o", strconv.Itoa(part), img).CombinedOutput()
		if err != nil {
			testenv.Lacks(t, "no loop device for lvm2 (losetup needs root and /dev/loop*): %v %s", err, out)
		}
		loop := strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command(losetup, "-d", loop).Run() })
		loops = append(loops, loop)
	}
	vg := fmt.Sprintf("guesttest%d", rand.IntN(1e9))
	lvmOn(t, loops, "pvcreate", "-y", loops[0], loops[1])
	lvmOn(t, loops, "vgcreate", "-s", "1M", vg, loops[0], loops[1])
	t.Cleanup(func() { lvmOn(t, loops, "vgremove", "-f", vg) })
	lvmOn(t, loops, "lvcreate", "-y", "-n", "data", "-L", "60M", vg)

	// The LV's content: ext4 from mkfs.ext4 -d, in an image of its size.
	src := hostFiles(t, map[string]int{"srv/www/index.html": 900, "srv/db/big.bin": 40 << 20})
	lvImg := sparseImage(t, "lv.img", 60<<20)
	guesttest.Run(t, "", "mkfs.ext4", "-q", "-d", src, lvImg)
	var files []guestFile
	for _, name := range []string{"srv/www/index.html", "srv/db/big.bin"} {
		back := guesttest.Run(t, "", "debugfs", "-R", "cat /"+name, lvImg)
		sum := sha256.Sum256([]byte(back))
		files = append(files, guestFile{path: name, size: len(back), sha256: hex.EncodeToString(sum[:])})
	}
	// Place it at the extents lvs reports, e.g. "/dev/loop3:0-46".
	var rep struct {
		Report []struct {
			Seg []map[string]string `json:"seg"`
			PV  []map[string]string `json:"pv"`
		} `json:"report"`
	}
	out := lvmOn(t, loops, "lvs", "--segments", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "seg_start_pe,seg_pe_ranges", vg+"/data")
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	pvOut := lvmOn(t, loops, "pvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "pv_name,pe_start")
	var pvRep struct {
		Report []struct {
			PV []map[string]string `json:"pv"`
		} `json:"report"`
	}
	if err := json.Unmarshal(pvOut, &pvRep); err != nil {
		t.Fatal(err)
	}
	peStart := map[string]int64{}
	for _, pv := range pvRep.Report[0].PV {
		peStart[pv["pv_name"]], _ = strconv.ParseInt(pv["pe_start"], 10, 64)
	}
	lvData, err := os.ReadFile(lvImg)
	if err != nil {
		t.Fatal(err)
	}
	for _, seg := range rep.Report[0].Seg {
		lvStart, _ := strconv.ParseInt(seg["seg_start_pe"], 10, 64)
		dev, ranges, _ := strings.Cut(seg["seg_pe_ranges"], ":")
		first, last, _ := strings.Cut(ranges, "-")
		a, _ := strconv.ParseInt(first, 10, 64)
		b, _ := strconv.ParseInt(last, 10, 64)
		i := slices.Index(loops, dev)
		if i < 0 {
			t.Fatalf("segment on %s, not one of %v", dev, loops)
		}
		f, err := os.OpenFile(imgs[i], os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(lvData[lvStart<<20:(lvStart+b-a+1)<<20], part+peStart[dev]+a<<20); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if len(rep.Report[0].Seg) < 2 {
		t.Fatalf("the LV does not span both disks: %v", rep.Report[0].Seg)
	}

	older, newer := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC)
	os.Chtimes(imgs[0], older, older)
	os.Chtimes(imgs[1], newer, newer)
	tree := openImages(t, imgs...)
	if got := rootNames(t, tree, "."); !slices.Equal(got, []string{"lvm", "vm1.img@", "vm1_1.img@"}) {
		t.Fatalf("root lists %v", got)
	}
	// What lies on one disk has its time; what spans both, the newer one.
	for name, want := range map[string]time.Time{".": newer, "vm1.img@": older, "vm1.img@/p1": older, "lvm": newer, "lvm/" + vg: newer, "lvm/" + vg + "/data": newer} {
		info := mustStat(t, tree, name)
		if !info.ModTime().Equal(want) {
			t.Errorf("%s: mtime %s, want %s", name, info.ModTime(), want)
		}
		disk, group, volume := name == "." || name == "vm1.img@", name == "lvm" || name == "lvm/"+vg, strings.Contains(name, "/p1") || strings.HasSuffix(name, "/data")
		if IsDiskRoot(info) != disk || IsGroupDir(info) != group || IsVolumeRoot(info) != volume {
			t.Errorf("%s: disk root %v, group %v, volume root %v; want %v, %v, %v", name, IsDiskRoot(info), IsGroupDir(info), IsVolumeRoot(info), disk, group, volume)
		}
	}
	if got := rootNames(t, tree, "lvm/"+vg); !slices.Equal(got, []string{"data"}) {
		t.Fatalf("lvm/%s lists %v", vg, got)
	}
	checkFiles(t, tree, "lvm/"+vg+"/data", files)
	if gi := mustStat(t, tree, "lvm/"+vg+"/data/srv/www/index.html").Sys().(*Info); gi.Layer != "LV "+vg+"/data, ext4" {
		t.Errorf("layer %q", gi.Layer)
	}
	if got := rootNames(t, tree, "vm1.img@/p1"); len(got) != 0 {
		t.Errorf("a physical volume lists %v", got)
	}

	// The same disks as the VMDKs of one VM in a datastore folder: the
	// group is found from the first disk's folder, the .vmx naming the
	// other disk.
	ds := t.TempDir()
	os.Mkdir(ds+"/vm1", 0o755)
	for i, name := range []string{"vm1", "vm1_1"} {
		if err := os.Link(imgs[i], ds+"/vm1/"+name+"-flat.vmdk"); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(ds+"/vm1/"+name+".vmdk", guesttest.Descriptor(name+"-flat.vmdk", 48<<20), 0o644)
	}
	os.WriteFile(ds+"/vm1/vm1.vmx", []byte("displayName = \"vm1\"\nscsi0:0.fileName = \"vm1.vmdk\"\nscsi0:1.fileName = \"vm1_1.vmdk\"\n"), 0o644)
	store := NewDatastore(context.Background(), os.DirFS(ds), DatastoreOptions{})
	defer store.Close()
	checkFiles(t, store, "vm1/vm1.vmdk@/lvm/"+vg+"/data", files)
	if w := store.Warnings(); len(w) > 0 {
		t.Errorf("warnings through the datastore: %q", w)
	}

	// The first disk alone: the group is there, with a PV missing.
	alone := openImages(t, imgs[0])
	if w := strings.Join(alone.Warnings(), "\n"); !strings.Contains(w, "physical volumes not among the disks given") {
		t.Errorf("warnings: %s", w)
	}
	if _, err := fs.ReadFile(alone, "lvm/"+vg+"/data/srv/db/big.bin"); err == nil {
		t.Error("a file on the missing disk read without error")
	}
}

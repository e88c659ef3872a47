// Package guesttest makes virtual disks for the tests of the packages that
// read them, with the file systems' own tools: a raw disk image
// partitioned by sfdisk whose one partition holds ext4 made by
// mkfs.ext4 -d from a folder, disks whose partitions are the physical
// volumes of an LVM2 volume group (lvm2 on loop devices) with ext4 in a
// logical volume, and the VMDK descriptor that makes such an image a VM's
// disk. A missing tool skips the test (internal/testenv).
package guesttest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// PartitionStart is the byte offset of Ext4Disk's partition.
const PartitionStart = 1 << 20

// Ext4Disk writes at path a sparse disk image of size bytes with an MBR
// (sfdisk) and one Linux partition from PartitionStart to the end,
// formatted as ext4 by mkfs.ext4 -d holding the files of folder src.
func Ext4Disk(tb testing.TB, path string, size int64, src string) {
	tb.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		tb.Fatal(err)
	}
	Run(tb, "label: dos\nstart=2048, type=83\n", "sfdisk", "-q", path)
	Run(tb, "", "mkfs.ext4", "-q", "-E", fmt.Sprintf("offset=%d", PartitionStart), "-d", src, path, fmt.Sprintf("%dk", (size-PartitionStart)>>10))
}

// ReadExt4 returns a file of Ext4Disk's partition as debugfs reads it.
func ReadExt4(tb testing.TB, disk, name string) []byte {
	tb.Helper()
	return []byte(Run(tb, "", "debugfs", "-R", "cat /"+name, fmt.Sprintf("%s?offset=%d", disk, PartitionStart)))
}

// Descriptor is the text of a VMDK descriptor (createType vmfs) whose one
// extent is the raw image flat, of size bytes, named relative to it.
func Descriptor(flat string, size int64) []byte {
	return fmt.Appendf(nil, "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\nRW %d VMFS %q\n", size/512, flat)
}

// Run runs an outside program with stdin and returns its standard output;
// it fails the test with the program's output when the program fails.
func Run(tb testing.TB, stdin, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(testenv.Tool(tb, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// LVMDisks gives each image at imgs (sparse files of a few dozen MiB) an
// MBR (sfdisk) with one partition of type 8e from PartitionStart to its
// end, and makes those partitions, through loop devices, the physical
// volumes of a new volume group (lvm2, without udev or device-mapper) with
// one logical volume "data" of lvSize bytes, spread over them as lvm2
// allocates it. The logical volume holds ext4 made by mkfs.ext4 -d from
// the files of src, written at the extents lvs reports, since it is never
// activated. It returns the group's name and an image of the logical
// volume alone, for debugfs. Without loop devices (not root) the test is
// skipped.
func LVMDisks(tb testing.TB, imgs []string, lvSize int64, src string) (vg, lvImage string) {
	tb.Helper()
	losetup := testenv.Tool(tb, "losetup")
	testenv.Tool(tb, "lvm")
	var loops []string
	for _, img := range imgs {
		Run(tb, "label: dos\nstart=2048, type=8e\n", "sfdisk", "-q", img)
		out, err := exec.Command(losetup, "-f", "--show", "-o", strconv.Itoa(PartitionStart), img).CombinedOutput()
		if err != nil {
			testenv.Lacks(tb, "no loop device for lvm2 (losetup needs root and /dev/loop*): %v %s", err, out)
		}
		loop := strings.TrimSpace(string(out))
		tb.Cleanup(func() { exec.Command(losetup, "-d", loop).Run() })
		loops = append(loops, loop)
	}
	vg = fmt.Sprintf("guesttest%d", rand.IntN(1e9))
	lvm(tb, loops, append([]string{"pvcreate", "-y"}, loops...)...)
	lvm(tb, loops, append([]string{"vgcreate", "-s", "1M", vg}, loops...)...)
	tb.Cleanup(func() { lvm(tb, loops, "vgremove", "-f", vg) })
	lvm(tb, loops, "lvcreate", "-y", "-n", "data", "-L", fmt.Sprintf("%dM", lvSize>>20), vg)

	lvImage = filepath.Join(tb.TempDir(), "lv.img")
	if err := os.WriteFile(lvImage, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(lvImage, lvSize); err != nil {
		tb.Fatal(err)
	}
	Run(tb, "", "mkfs.ext4", "-q", "-d", src, lvImage)
	// Place it at the extents lvs reports, e.g. "/dev/loop3:0-46".
	var rep, pvRep struct {
		Report []struct {
			Seg []map[string]string `json:"seg"`
			PV  []map[string]string `json:"pv"`
		} `json:"report"`
	}
	if err := json.Unmarshal(lvm(tb, loops, "lvs", "--segments", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "seg_start_pe,seg_pe_ranges", vg+"/data"), &rep); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(lvm(tb, loops, "pvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "pv_name,pe_start"), &pvRep); err != nil {
		tb.Fatal(err)
	}
	peStart := map[string]int64{}
	for _, pv := range pvRep.Report[0].PV {
		peStart[pv["pv_name"]], _ = strconv.ParseInt(pv["pe_start"], 10, 64)
	}
	lvData, err := os.ReadFile(lvImage)
	if err != nil {
		tb.Fatal(err)
	}
	for _, seg := range rep.Report[0].Seg {
		lvStart, _ := strconv.ParseInt(seg["seg_start_pe"], 10, 64)
		dev, ranges, _ := strings.Cut(seg["seg_pe_ranges"], ":")
		first, last, _ := strings.Cut(ranges, "-")
		a, _ := strconv.ParseInt(first, 10, 64)
		b, _ := strconv.ParseInt(last, 10, 64)
		i := slices.Index(loops, dev)
		if i < 0 {
			tb.Fatalf("segment on %s, not one of %v", dev, loops)
		}
		f, err := os.OpenFile(imgs[i], os.O_WRONLY, 0)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := f.WriteAt(lvData[lvStart<<20:(lvStart+b-a+1)<<20], PartitionStart+peStart[dev]+a<<20); err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
	if len(rep.Report[0].Seg) < len(imgs) {
		tb.Fatalf("the logical volume does not span every disk: %v", rep.Report[0].Seg)
	}
	return vg, lvImage
}

// lvm runs lvm2 on the given loop devices only, without udev or
// device-mapper (--driverloaded n: logical volumes are created but not
// activated).
func lvm(tb testing.TB, loops []string, args ...string) []byte {
	tb.Helper()
	var accept []string
	for _, l := range loops {
		accept = append(accept, fmt.Sprintf(`"a|^%s$|"`, l))
	}
	conf := fmt.Sprintf(`devices { filter = [ %s, "r|.*|" ] obtain_device_list_from_udev = 0 } activation { udev_sync = 0 udev_rules = 0 }`, strings.Join(accept, ", "))
	cmd := exec.Command(testenv.Tool(tb, "lvm"), append([]string{args[0], "--driverloaded", "n", "--config", conf}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("lvm %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

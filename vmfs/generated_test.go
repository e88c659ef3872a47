package vmfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// generatedSpecs covers every addressing mode and directory shape the
// generator can write, on both generations.
func generatedSpecs() map[string]vmfstest.Spec {
	tree := func() []vmfstest.Entry {
		return []vmfstest.Entry{
			{Path: "empty", Data: []byte{}},
			{Path: "resident.txt", Data: []byte("hello, resident\n")},
			{Path: "small.bin", Size: 5000, Seed: 1},
			{Path: "multi.bin", Size: 3<<20 + 12345, Seed: 2},
			{Path: "frag.bin", Size: 4<<20 + 1, Seed: 3, Fragmented: true},
			{Path: "thin-flat.vmdk", Size: 16 << 20, Seed: 4, Thin: true,
				Holes: []vmfstest.Range{{Off: 1 << 20, Len: 10 << 20}}},
			{Path: "vm1/vm1.vmx", Data: []byte("displayName = \"vm1\"\n")},
			{Path: "vm1/deep/er/still/deeper/file", Size: 70000, Seed: 5},
			{Path: "vm1/link", Kind: vmfstest.Symlink, Target: "vm1.vmx"},
			{Path: "vm1/" + strings.Repeat("n", 120), Data: []byte("long name")},
			{Path: "gone.bin", Size: 2 << 20, Seed: 6, Deleted: true},
		}
	}
	return map[string]vmfstest.Spec{
		"vmfs5":     {Version: 5, Label: "gen5", Files: tree()},
		"vmfs6":     {Version: 6, Label: "gen6", Files: tree()},
		"vmfs5-gpt": {Version: 5, Label: "gpt5", Partition: "gpt", Files: tree()},
		"vmfs6-mbr": {Version: 6, Label: "mbr6", Partition: "mbr", StartSector: 128, Files: tree()},
	}
}

func TestGeneratedVolumesMatchExpected(t *testing.T) {
	for name, spec := range generatedSpecs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := vmfstest.Write(filepath.Join(t.TempDir(), name+".img"), spec)
			if err != nil {
				t.Fatal(err)
			}
			vol := openResult(t, res)
			checkListing(t, vol, res)
			// fstest reads files a byte at a time: keep it to the user tree.
			sub, err := fs.Sub(vol, "vm1")
			if err != nil {
				t.Fatal(err)
			}
			if err := fstest.TestFS(sub, "vm1.vmx", "link", "deep/er/still/deeper/file"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFixturesMatchExpected reads the whole generated fixture set (every
// addressing mode, thin and fragmented files, deleted entries, 10,240
// entries in one directory, partition-table variants, 8 MiB blocks).
func TestFixturesMatchExpected(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: reads hundreds of MiB; make test runs it in its second, race-free pass")
	}
	for _, fx := range vmfstest.Fixtures(false) {
		t.Run(fx.Name, func(t *testing.T) {
			t.Parallel()
			res, err := vmfstest.Write(filepath.Join(t.TempDir(), fx.Name+".img"), fx.Spec)
			if err != nil {
				t.Fatal(err)
			}
			checkListing(t, openResult(t, res), res)
		})
	}
}

// openResult finds the generated volume on its images with Find (every
// extent's image, given in reverse order) and opens it.
func openResult(t *testing.T, res *vmfstest.Result) *Volume {
	t.Helper()
	images := append([]string{res.Image}, res.Images...)
	slices.Reverse(images)
	var devs []Device
	for _, img := range slices.Compact(images) {
		dev := openImage(t, img)
		cands, _, err := Find(dev, dev.Size(), FindOptions{})
		if err != nil || len(cands) != 1 || cands[0].Offset != res.PartitionOffset {
			t.Fatalf("Find on %s = %+v, %v; want one extent at %d", img, cands, err, res.PartitionOffset)
		}
		devs = append(devs, io.NewSectionReader(dev, cands[0].Offset, cands[0].Size))
	}
	vol, err := Open(devs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return vol
}

// checkListing compares the volume's listing with the generator's.
func checkListing(t *testing.T, vol *Volume, res *vmfstest.Result) {
	t.Helper()
	got, err := listing(vol)
	if err != nil {
		t.Fatal(err)
	}
	want, err := res.Expected()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("listing differs\n%s", diffLines(got, want))
	}
}

// diffLines shows the lines only one side has.
func diffLines(got, want string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	var out []string
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestLargeVMFS6FDC reads a VMFS6 volume with more than 40,960 files, whose
// .fdc.sf is itself mapped through .pb2.sf pointer blocks.
func TestLargeVMFS6FDC(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: 41,000 files; make test runs it in its second, race-free pass")
	}
	var files []vmfstest.Entry
	for i := range 41000 {
		files = append(files, vmfstest.Entry{Path: fmt.Sprintf("d%02d/f%05d", i%50, i), Data: []byte(fmt.Sprint(i))})
	}
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "big.img"), vmfstest.Spec{Version: 6, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	vol := openResult(t, res)
	for _, i := range []int{0, 20000, 40999} {
		p := fmt.Sprintf("d%02d/f%05d", i%50, i)
		b, err := fs.ReadFile(vol, p)
		if err != nil || string(b) != fmt.Sprint(i) {
			t.Fatalf("%s: %q, %v", p, b, err)
		}
	}
	ents, err := vol.ReadDir("d07")
	if err != nil || len(ents) != 820 {
		t.Fatalf("d07: %d entries, %v", len(ents), err)
	}
}

// TestVMFSL reads an ESXi OSDATA (VMFS-L) volume: a VMFS whose descriptor
// carries the magic 0x2FABF15F.
func TestVMFSL(t *testing.T) {
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "osdata.img"), vmfstest.Spec{Version: 6, Label: "OSDATA-x", Files: []vmfstest.Entry{
		{Path: "locker/packages/vmtools.txt", Data: []byte("tools\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(res.Image, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0x5F, 0xF1, 0xAB, 0x2F}, res.PartitionOffset+0x1100000+fsDescriptorOffset)
	f.Close()
	vol := openResult(t, res)
	if d := vol.Descriptor(); !d.IsVMFSL() || d.Label != "OSDATA-x" {
		t.Fatalf("descriptor %+v", d)
	}
	if b, err := fs.ReadFile(vol, "locker/packages/vmtools.txt"); err != nil || string(b) != "tools\n" {
		t.Fatalf("read: %q, %v", b, err)
	}
}

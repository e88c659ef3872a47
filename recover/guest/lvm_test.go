package guest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
)

// Two disks of one VM, each an MBR with one partition of type 8e (LVM)
// made by sfdisk; a volume group made by lvm2 spans both, and its
// logical volume "data", larger than either disk, holds ext4 made by
// mkfs.ext4 -d. Given together, the disks show vm1.img@/p1,
// vm1_1.img@/p1 and lvm/VG/data with every file's sha256 equal to what
// debugfs reads; given alone, the first disk's group says which physical
// volume is missing.
func TestLVMSpanningTwoDisks(t *testing.T) {
	imgs := []string{sparseImage(t, "vm1.img", 48<<20), sparseImage(t, "vm1_1.img", 48<<20)}
	// The LV's content: ext4 from mkfs.ext4 -d, larger than either disk.
	src := hostFiles(t, map[string]int{"srv/www/index.html": 900, "srv/db/big.bin": 40 << 20})
	vg, lvImg := guesttest.LVMDisks(t, imgs, 60<<20, src)
	var files []guestFile
	for _, name := range []string{"srv/www/index.html", "srv/db/big.bin"} {
		back := guesttest.Run(t, "", "debugfs", "-R", "cat /"+name, lvImg)
		sum := sha256.Sum256([]byte(back))
		files = append(files, guestFile{path: name, size: len(back), sha256: hex.EncodeToString(sum[:])})
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

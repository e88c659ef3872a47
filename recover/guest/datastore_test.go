package guest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
)

// A folder holding two VMs' disks, converted by qemu-img from a raw disk
// partitioned by sfdisk with a FAT partition: a monolithic sparse VMDK and
// a descriptor with its -flat extent. Each disk has a NAME.vmdk@ directory
// beside it, its extent none.
func TestDatastoreVMDKs(t *testing.T) {
	raw := sparseImage(t, "guest.raw", 48<<20)
	guesttest.Run(t, "label: dos\nstart=2048, size=40MiB, type=e\n", "sfdisk", "-q", raw)
	files := fatFiles(t, raw, 1<<20, 40<<20, 16, map[string]int{"etc/hostname": 6, "data/db.bin": 300 << 10})
	ds := t.TempDir()
	for _, vm := range []string{"vm1", "vm2"} {
		if err := os.Mkdir(filepath.Join(ds, vm), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	guesttest.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, filepath.Join(ds, "vm1", "vm1.vmdk"))
	guesttest.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicFlat", raw, filepath.Join(ds, "vm2", "vm2.vmdk"))
	os.WriteFile(filepath.Join(ds, "vm1", "vm1.vmx"), []byte("displayName = \"vm1\"\n"), 0o644)

	d := NewDatastore(context.Background(), os.DirFS(ds), DatastoreOptions{})
	defer d.Close()
	if got := rootNames(t, d, "vm2"); !slices.Equal(got, []string{"vm2-flat.vmdk", "vm2.vmdk", "vm2.vmdk@"}) {
		t.Errorf("vm2 lists %v", got)
	}
	if got := rootNames(t, d, "vm1"); !slices.Equal(got, []string{"vm1.vmdk", "vm1.vmdk@", "vm1.vmx"}) {
		t.Errorf("vm1 lists %v", got)
	}
	// vm3 lost its descriptor: its -flat extent is entered by its path
	// (not listed) and reads as a raw disk.
	os.Mkdir(filepath.Join(ds, "vm3"), 0o755)
	if err := os.Link(filepath.Join(ds, "vm2", "vm2-flat.vmdk"), filepath.Join(ds, "vm3", "vm3-flat.vmdk")); err != nil {
		t.Fatal(err)
	}
	if got := rootNames(t, d, "vm3"); !slices.Equal(got, []string{"vm3-flat.vmdk"}) {
		t.Errorf("vm3 lists %v", got)
	}
	checkFiles(t, d, "vm3/vm3-flat.vmdk@/p1", files)
	if !IsDiskDir(mustStat(t, d, "vm1/vm1.vmdk@")) {
		t.Error("vm1/vm1.vmdk@ is not a disk directory")
	}
	checkFiles(t, d, "vm1/vm1.vmdk@/p1", files)
	checkFiles(t, d, "vm2/vm2.vmdk@/p1", files)
	// TestFS reads every file byte by byte: not the datastore's disks.
	sub, err := fs.Sub(d, "vm2/vm2.vmdk@")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "p1/etc/hostname", "p1/data/db.bin"); err != nil {
		t.Error(err)
	}
	list, err := fs.ReadDir(d, "vm1")
	if f, ferr := d.Open("vm1"); ferr != nil || err != nil {
		t.Fatal(ferr, err)
	} else if opened, err := f.(fs.ReadDirFile).ReadDir(-1); err != nil || len(opened) != len(list) {
		t.Errorf("Open(vm1).ReadDir lists %d entries (%v), ReadDir %d", len(opened), err, len(list))
	}
	for _, invalid := range []string{"vm1//vm1.vmdk@", "vm1/./vm1.vmdk@/p1", "/vm1/vm1.vmdk@", "vm1/vm1.vmdk@/p1/../p1"} {
		if _, err := fs.Stat(d, invalid); !errors.Is(err, fs.ErrInvalid) && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want an invalid path", invalid, err)
		}
	}
	for _, bad := range []string{"vm2/vm2-flat.vmdk@/p1", "vm1/nothere.vmdk@", "vm1/vm1.vmdk@/p2", "vm1/vm1.vmdk@/p1/etc/nothere"} {
		_, err := fs.Stat(d, bad)
		var pe *fs.PathError
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != bad {
			t.Errorf("%s: %v, want not found naming the path", bad, err)
		}
	}
}

// Many readers at once enter the disks for the first time together, as
// export's workers and a FUSE mount's requests do: each disk opens once
// and every read is right (run with -race).
func TestDatastoreConcurrentEntry(t *testing.T) {
	raw := sparseImage(t, "guest.raw", 24<<20)
	guesttest.Run(t, "label: dos\nstart=2048, size=20MiB, type=e\n", "sfdisk", "-q", raw)
	files := fatFiles(t, raw, 1<<20, 20<<20, 16, map[string]int{"a.bin": 70000, "b/c.bin": 5000})
	ds := t.TempDir()
	for _, vm := range []string{"vm1", "vm2"} {
		os.Mkdir(filepath.Join(ds, vm), 0o755)
		os.Link(raw, filepath.Join(ds, vm, vm+"-flat.vmdk"))
		os.WriteFile(filepath.Join(ds, vm, vm+".vmdk"), guesttest.Descriptor(vm+"-flat.vmdk", 24<<20), 0o644)
	}
	d := NewDatastore(context.Background(), os.DirFS(ds), DatastoreOptions{})
	defer d.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vm := []string{"vm1", "vm2"}[i%2]
			for _, f := range files {
				b, err := fs.ReadFile(d, vm+"/"+vm+".vmdk@/p1/"+f.path)
				if err == nil && len(b) != f.size {
					err = fmt.Errorf("%s: %d bytes, want %d", f.path, len(b), f.size)
				}
				if err != nil {
					errs <- err
				}
			}
			d.Warnings()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/guest"
	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// guestDisk writes a raw disk partitioned by sfdisk (MBR) with an ext4
// partition made by mkfs.ext4 -d, and returns it with the sha256 debugfs
// reads of each file.
func guestDisk(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := map[string]string{"etc/hostname": "vm1-guest\n", "home/u/notes.txt": strings.Repeat("guest notes\n", 2000)}
	for name, data := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	img := filepath.Join(dir, "guest.raw")
	guesttest.Ext4Disk(t, img, 24<<20, src)
	sums := map[string]string{}
	for name := range files {
		sum := sha256.Sum256(guesttest.ReadExt4(t, img, name))
		sums["/p1/"+name] = hex.EncodeToString(sum[:])
	}
	return img, sums
}

// guestDatastore writes a VMFS6 datastore whose /vm1/vm1.vmdk is the raw
// disk as a VMDK (descriptor and -flat extent made by qemu-img).
func guestDatastore(t *testing.T, raw string) string {
	t.Helper()
	vmdkDir := t.TempDir()
	desc := filepath.Join(vmdkDir, "vm1.vmdk")
	guesttest.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicFlat", raw, desc)
	descBytes, _ := os.ReadFile(desc)
	flat, _ := os.ReadFile(filepath.Join(vmdkDir, "vm1-flat.vmdk"))
	ds := filepath.Join(t.TempDir(), "ds.img")
	if _, err := vmfstest.Write(ds, vmfstest.Spec{Version: 6, Label: "ds1", Files: []vmfstest.Entry{
		{Path: "vm1/vm1.vmdk", Data: descBytes},
		{Path: "vm1/vm1-flat.vmdk", Data: flat, Thin: true},
		{Path: "vm1/vm1.vmx", Data: []byte("displayName = \"vm1\"\nscsi0:0.fileName = \"vm1.vmdk\"\n")},
	}}); err != nil {
		t.Fatal(err)
	}
	return ds
}

// A raw guest disk as SOURCE, and the same disk as a VMDK (descriptor and
// -flat extent made by qemu-img) inside a VMFS6 datastore: ls, cat, stat,
// export and verify at every depth, each file's sha256 equal to debugfs's.
func TestGuestFilesThroughCommands(t *testing.T) {
	raw, sums := guestDisk(t)
	out, err, _ := cli(t, "ls", "-r", "--hash", "sha256", raw)
	if err != nil {
		t.Fatal(err)
	}
	for p, sum := range sums {
		if !strings.Contains(out, sum+" "+p+"\n") {
			t.Errorf("ls -r --hash of the raw disk lacks %s %s:\n%s", sum, p, out)
		}
	}

	ds := guestDatastore(t, raw)
	if out, err, _ = cli(t, "ls", ds, "/vm1"); err != nil || out != "/vm1/vm1-flat.vmdk\n/vm1/vm1.vmdk\n/vm1/vm1.vmdk@\n/vm1/vm1.vmx\n" {
		t.Errorf("ls /vm1: %v\n%s", err, out)
	}
	if out, err, _ = cli(t, "ls", "-r", ds); err != nil || strings.Contains(out, "@/") {
		t.Errorf("ls -r without --guests enters the disk: %v\n%s", err, out)
	}
	if out, err, _ = cli(t, "ls", "-r", "--guests", "--hash", "sha256", ds); err != nil {
		t.Fatal(err)
	}
	for p, sum := range sums {
		if !strings.Contains(out, sum+" /vm1/vm1.vmdk@"+p+"\n") {
			t.Errorf("ls -r --guests lacks %s:\n%s", p, out)
		}
	}
	if out, err, _ = cli(t, "cat", ds, "/vm1/vm1.vmdk@/p1/etc/hostname"); err != nil || out != "vm1-guest\n" {
		t.Errorf("cat: %v %q", err, out)
	}
	if out, err, _ = cli(t, "--json", "ls", ds, "/vm1/vm1.vmdk@/p1/etc/hostname"); err != nil {
		t.Fatal(err)
	}
	var e struct{ Path, Layer, State string }
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Path != "/vm1/vm1.vmdk@/p1/etc/hostname" || e.Layer != "partition p1 (Linux), ext4" || e.State != "live" {
		t.Errorf("ls --json: %v %+v", err, e)
	}
	if out, err, _ = cli(t, "stat", ds, "/vm1/vm1.vmdk@/p1/home/u/notes.txt"); err != nil || !strings.Contains(out, "layer:      partition p1 (Linux), ext4\nstate:      live\n") {
		t.Errorf("stat: %v\n%s", err, out)
	}

	// Export of the VM folder with --guests, and of one path inside.
	dest := filepath.Join(t.TempDir(), "rescue")
	if out, err, _ = cli(t, "export", ds, "/vm1", "--guests", "--to", dest); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	for p, sum := range sums {
		b, err := os.ReadFile(filepath.Join(dest, "vm1/vm1.vmdk@", p))
		got := sha256.Sum256(b)
		if err != nil || hex.EncodeToString(got[:]) != sum {
			t.Errorf("exported %s: %v, or other bytes", p, err)
		}
	}
	man, _ := os.ReadFile(filepath.Join(dest, "vmfsrecover-manifest.jsonl"))
	if !strings.Contains(string(man), `"source":"vm1/vm1.vmdk@/p1/etc/hostname"`) {
		t.Errorf("manifest lacks the path through the layers:\n%s", man)
	}
	if out, err, _ = cli(t, "verify", "--manifest", filepath.Join(dest, "vmfsrecover-manifest.jsonl")); err != nil {
		t.Errorf("verify: %v\n%s", err, out)
	}
	dest2 := filepath.Join(t.TempDir(), "rescue2")
	if out, err, _ = cli(t, "export", ds, "/vm1", "--to", dest2); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dest2, "vm1/vm1.vmdk@")); err == nil {
		t.Error("export without --guests entered the disk")
	}
}

// A FAT partition made by mkfs.fat with a file deleted by mdel: ls
// --deleted lists it (deleted) without a deep scan, and cat --deep reads
// it; without either it is not there.
func TestGuestDeletedFile(t *testing.T) {
	img := filepath.Join(t.TempDir(), "fat.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, 32<<20)
	src := filepath.Join(t.TempDir(), "gone.txt")
	os.WriteFile(src, []byte(strings.Repeat("deleted but there\n", 100)), 0o644)
	guesttest.Run(t, "start=2048, type=e\n", "sfdisk", "-q", img)
	guesttest.Run(t, "", "mkfs.fat", "-F", "16", "--offset", "2048", img, "31744")
	guesttest.Run(t, "", "mcopy", "-i", img+"@@1M", src, "::")
	guesttest.Run(t, "", "mdel", "-i", img+"@@1M", "::gone.txt")
	out, err, _ := cli(t, "ls", "-rl", "--deleted", img)
	if err != nil || !strings.Contains(out, "deleted -r--r--r--         1800 ") || !strings.Contains(out, "/p1/_one.txt") {
		t.Fatalf("ls --deleted: %v\n%s", err, out)
	}
	if out, err, _ = cli(t, "cat", "--deep", img, "/p1/_one.txt"); err != nil || out != strings.Repeat("deleted but there\n", 100) {
		t.Errorf("cat --deep: %v %q", err, out)
	}
	if out, err, _ = cli(t, "ls", "-r", img); err != nil || strings.Contains(out, "_one.txt") {
		t.Errorf("ls without --deleted: %v\n%s", err, out)
	}
}

// The folders of partitions and logical volumes have no time of their
// own: they take the disk file's, in ls -l and --json, on a disk SOURCE
// and below a datastore's NAME.vmdk@ (the VMDK's time, as NAME.vmdk@ has).
func TestGuestPartitionRootTimes(t *testing.T) {
	raw, _ := guestDisk(t)
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(raw, when, when); err != nil {
		t.Fatal(err)
	}
	ds := guestDatastore(t, raw)
	lsJSON := func(args ...string) (string, time.Time) {
		t.Helper()
		out, err, _ := cli(t, append([]string{"--json", "ls"}, args...)...)
		var e struct {
			Path  string
			MTime time.Time `json:"mtime"`
		}
		if err == nil {
			err = json.Unmarshal([]byte(out), &e)
		}
		if err != nil {
			t.Fatalf("ls --json %q: %v\n%s", args, err, out)
		}
		return e.Path, e.MTime
	}
	_, vmdkTime := lsJSON(ds, "/vm1/vm1.vmdk")
	for _, c := range []struct {
		args []string
		want time.Time
	}{
		{[]string{raw, "/"}, when},
		{[]string{ds, "/vm1/vm1.vmdk@"}, vmdkTime},
	} {
		p, mtime := lsJSON(c.args...)
		if !strings.HasSuffix(p, "/p1") || !mtime.Equal(c.want) || mtime.IsZero() {
			t.Errorf("ls --json %q: %s mtime %s, want the disk's %s", c.args, p, mtime, c.want)
		}
	}
	if out, err, _ := cli(t, "ls", "-l", raw, "/"); err != nil || !strings.Contains(out, " 2024-05-06 ") {
		t.Errorf("ls -l: %v\n%s", err, out)
	}
}

// A Btrfs partition, which no reader reads: entering it fails with the
// commands that copy it out, naming the SOURCE as given, and run by a
// shell as printed, they write the partition's bytes to part.img. On the
// raw disk as SOURCE (dump), inside a datastore as a flat VMDK (cat of the
// extent's range) and as a single-file sparse VMDK (export of the disk,
// then dump of the copy).
func TestGuestCopyOutHint(t *testing.T) {
	testenv.Tool(t, "mkfs.btrfs")
	if testing.Short() {
		t.Skip("builds the binary to run the hints; skipped with -short")
	}
	dir := t.TempDir()
	const start, size = 9 << 20, 121 << 20 // p2, after an 8 MiB ext4 p1
	raw := filepath.Join(dir, "btrfs guest.raw")
	os.WriteFile(raw, nil, 0o644)
	os.Truncate(raw, start+size)
	guesttest.Run(t, "label: dos\nstart=2048, size=16384, type=83\nstart=18432, type=83\n", "sfdisk", "-q", raw)
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello\n"), 0o644)
	guesttest.Run(t, "", "mkfs.ext4", "-q", "-E", "offset=1048576", "-d", src, raw, "8192k")
	part := filepath.Join(dir, "p2.img")
	os.WriteFile(part, nil, 0o644)
	os.Truncate(part, size)
	guesttest.Run(t, "", "mkfs.btrfs", "-q", part)
	guesttest.Run(t, "", "dd", "if="+part, "of="+raw, "bs=1M", fmt.Sprintf("seek=%d", start>>20), "conv=notrunc,sparse", "status=none")
	want := testenv.FileSHA256(t, part)

	sparse := filepath.Join(dir, "vm1.vmdk")
	guesttest.Run(t, "", "qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, sparse)
	sparseData, _ := os.ReadFile(sparse)
	sparseDS := filepath.Join(dir, "sparse-ds.img")
	if _, err := vmfstest.Write(sparseDS, vmfstest.Spec{Version: 6, Label: "ds2", Files: []vmfstest.Entry{
		{Path: "vm1/vm1.vmdk", Data: sparseData},
	}}); err != nil {
		t.Fatal(err)
	}
	flatDS := guestDatastore(t, raw)
	bin := filepath.Dir(buildBinary(t))
	for _, c := range []struct {
		args []string // of cat of a file on p2
		cmd  string   // the start of the command printed
	}{
		{[]string{raw, "/p2/etc/fstab"}, "vmfsrecover dump --offset 9437184 --length 126877696 '" + raw + "' -o part.img"},
		{[]string{flatDS, "/vm1/vm1.vmdk@/p2/etc/fstab"}, "vmfsrecover cat --offset 9437184 --length 126877696 " + flatDS + " /vm1/vm1-flat.vmdk > part.img"},
		// Several SOURCEs (the volume is on one): the options before
		// them, which end with --.
		{[]string{"--tolerant", flatDS, raw, "--", "/vm1/vm1.vmdk@/p2/etc/fstab"}, "vmfsrecover cat --offset 9437184 --length 126877696 --tolerant " + flatDS + " '" + raw + "' -- /vm1/vm1-flat.vmdk > part.img"},
		{[]string{sparseDS, "/vm1/vm1.vmdk@/p2/etc/fstab"}, "vmfsrecover export --to vmdk-copy " + sparseDS + " /vm1/vm1.vmdk && vmfsrecover dump "},
	} {
		_, err, _ := cli(t, append([]string{"cat"}, c.args...)...)
		if !errors.Is(err, guest.ErrNotReadable) {
			t.Fatalf("cat %q: %v, want ErrNotReadable", c.args, err)
		}
		_, hint, ok := strings.Cut(err.Error(), "Btrfs cannot be read yet; copy it out with: ")
		hint, _, ok2 := strings.Cut(hint, ", then use the file system's own tools")
		if !ok || !ok2 || !strings.HasPrefix(hint, c.cmd) {
			t.Errorf("cat %q: %v\nwant the command %s...", c.args, err, c.cmd)
			continue
		}
		work := t.TempDir()
		sh := exec.Command("sh", "-c", hint)
		sh.Dir = work
		sh.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		if out, err := sh.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", hint, err, out)
			continue
		}
		if got := testenv.FileSHA256(t, filepath.Join(work, "part.img")); got != want {
			t.Errorf("%s: part.img is not the partition", hint)
		}
	}
}

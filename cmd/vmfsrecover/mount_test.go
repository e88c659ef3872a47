package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/recover/mount"
	"github.com/vmfsrecover/vmfsrecover/recover/mount/mounttest"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// mounted is a runMount serving in the background.
type mounted struct {
	dir    string
	cancel context.CancelFunc
	errc   chan error
}

// mountForTest runs runMount on sources at a new folder and returns once
// the mount is there; the test's cleanup unmounts it if the test did not.
func mountForTest(t *testing.T, o *mountOptions, sources ...string) *mounted {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testenv.Lacks(t, "FUSE unavailable: %v", err)
	}
	m := &mounted{dir: t.TempDir(), errc: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	args := sources
	if len(sources) > 1 {
		args = append(append([]string(nil), sources...), "--")
	}
	go func() { m.errc <- runMount(ctx, o, append(args, m.dir)) }()
	t.Cleanup(func() {
		cancel()
		if isMountPoint(t, m.dir) {
			syscall.Unmount(m.dir, syscall.MNT_DETACH)
		}
	})
	for !isMountPoint(t, m.dir) {
		select {
		case err := <-m.errc:
			t.Fatalf("mount ended before mounting: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return m
}

// stop cancels the mount, as Ctrl-C does, and checks that it ended
// without error and left no mount behind.
func (m *mounted) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	if err := <-m.errc; err != nil {
		t.Errorf("mount ended with %v", err)
	}
	if isMountPoint(t, m.dir) {
		t.Errorf("%s is still mounted after the mount ended", m.dir)
	}
}

// isMountPoint reports whether /proc/self/mountinfo lists dir.
func isMountPoint(t *testing.T, dir string) bool {
	t.Helper()
	ok, err := mount.IsMounted(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// volumeEntries are the entries below dir, read through the mount by a
// child process with the ordinary file calls, without those the mount
// adds to the volume's own: a VMDK disk's flattened image NAME.raw (see
// TestMountShowsRawImages) and its guest directory NAME.vmdk@.
func volumeEntries(t *testing.T, dir string) []mounttest.Entry {
	t.Helper()
	all := mounttest.Walk(t, dir, ".raw", ".vmdk@")
	disks := map[string]bool{}
	for _, e := range all {
		if vmdk.IsDiskName(e.Path) {
			disks[path.Join(path.Dir(e.Path), vmdk.RawName(e.Path))] = true
		}
	}
	var out []mounttest.Entry
	for _, e := range all {
		if !disks[e.Path] && !strings.HasSuffix(e.Path, ".vmdk@") {
			out = append(out, e)
		}
	}
	return out
}

// expectedOf lists the tree below dir in the format of ls -r --hash
// sha256 (and the test volumes' expected listings), read through the
// mount (see volumeEntries).
func expectedOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, e := range volumeEntries(t, dir) {
		switch {
		case e.Mode.IsDir():
			fmt.Fprintf(&b, "d %d - %s\n", e.Size, e.Path)
		case e.Mode&fs.ModeSymlink != 0:
			fmt.Fprintf(&b, "l %d %s %s\n", e.Size, e.Target, e.Path)
		default:
			fmt.Fprintf(&b, "f %d %s %s\n", e.Size, e.SHA256, e.Path)
		}
	}
	return b.String()
}

// checkAgainstLs compares every entry's mode, size, mtime, link target
// and link count through the mount with those ls --json gives.
func checkAgainstLs(t *testing.T, m *mounted, vol volumeFlags, sources ...string) {
	t.Helper()
	var out bytes.Buffer
	o := &lsOptions{globalOptions: &globalOptions{quiet: true, json: true}, recursive: true, vol: vol}
	if err := runLs(context.Background(), o, sources, &out); err != nil {
		t.Fatal(err)
	}
	seen := map[string]mounttest.Entry{}
	for _, e := range volumeEntries(t, m.dir) {
		seen[e.Path] = e
	}
	dec := json.NewDecoder(&out)
	n := 0
	for dec.More() {
		var e struct {
			listing.Entry
			VMFS *struct {
				Links uint32 `json:"links"`
			} `json:"vmfs"`
		}
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		n++
		if e.Type == "dir" && strings.HasSuffix(e.Path, ".vmdk@") {
			continue // a disk's folder: the mount shows them with --guests
		}
		fi, ok := seen[e.Path]
		if !ok {
			t.Errorf("%s: not seen through the mount", e.Path)
			continue
		}
		if listing.ModeString(fi.Mode) != e.Mode || fi.Size != e.Size || !fi.MTime.Equal(e.MTime) {
			t.Errorf("%s through the mount: %s %d %s; ls: %s %d %s", e.Path, fi.Mode, fi.Size, fi.MTime.UTC(), e.Mode, e.Size, e.MTime)
		}
		if e.Target != "" && fi.Target != e.Target {
			t.Errorf("%s through the mount links to %q; ls: %q", e.Path, fi.Target, e.Target)
		}
		if e.VMFS != nil && e.VMFS.Links > 0 && fi.Links != uint64(e.VMFS.Links) {
			t.Errorf("%s through the mount has %d links; the descriptor says %d", e.Path, fi.Links, e.VMFS.Links)
		}
	}
	if n == 0 {
		t.Error("ls listed nothing")
	}
}

func TestMountReadsLikeCatAndLs(t *testing.T) {
	for _, v := range []int{5, 6} {
		t.Run(fmt.Sprintf("generated VMFS%d", v), func(t *testing.T) {
			res := genVolume(t, v)
			m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, res.Image)
			want, _ := res.Expected()
			if got := expectedOf(t, m.dir); got != want {
				t.Errorf("through the mount:\n%s\nls -r --hash sha256:\n%s", got, want)
			}
			checkAgainstLs(t, m, volumeFlags{}, res.Image)
			// The thin disk's hole (its second MiB) is a hole through the
			// mount, as cp --sparse asks with SEEK_DATA/SEEK_HOLE.
			thin := [][2]int64{{0, 1 << 20}, {2 << 20, 1 << 20}}
			if got := mounttest.DataMap(t, filepath.Join(m.dir, "vm1/disk-flat.vmdk")); !slices.Equal(got, thin) {
				t.Errorf("vm1/disk-flat.vmdk: data at %v through the mount, want %v", got, thin)
			}
			// du counts the two blocks it has.
			for _, e := range volumeEntries(t, m.dir) {
				if e.Path == "/vm1/disk-flat.vmdk" && e.Blocks*512 != 2<<20 {
					t.Errorf("vm1/disk-flat.vmdk: %d blocks of 512 bytes through the mount, want 2 MiB's", e.Blocks)
				}
			}
			m.stop(t)
		})
	}
	for _, name := range []string{"vmfs3", "vmfs5", "vmfs6"} {
		t.Run("real "+name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("-short: unpacking and hashing the real samples takes a while")
			}
			img, want := vmfstest.RealSample(t, name)
			m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, img)
			if got := expectedOf(t, m.dir); got != want {
				t.Errorf("through the mount:\n%s\nexpected (what cat gives):\n%s", got, want)
			}
			checkAgainstLs(t, m, volumeFlags{}, img)
			if name == "vmfs3" {
				// The flat disk thin.vmdk reads as its extent, thin-flat.vmdk.
				extent := mounttest.SHA256(t, filepath.Join(m.dir, "thin-flat.vmdk"))
				if raw := mounttest.SHA256(t, filepath.Join(m.dir, "thin.raw")); raw != extent {
					t.Errorf("thin.raw: sha256 %s; its extent thin-flat.vmdk: %s", raw, extent)
				}
			}
			m.stop(t)
		})
	}
}

func TestMountDeepShowsTheRecoveredTree(t *testing.T) {
	res := genVolume(t, 6)
	vol := volumeFlags{deep: true, scanDir: t.TempDir()}
	var want bytes.Buffer
	lo := &lsOptions{globalOptions: &globalOptions{quiet: true}, recursive: true, hash: "sha256", vol: vol}
	if err := runLs(context.Background(), lo, []string{res.Image}, &want); err != nil {
		t.Fatal(err)
	}
	// VMFS6 zeroes a deleted file's entry: the deep scan names old.log
	// by its descriptor.
	if intact, _ := res.Expected(); want.String() == intact || !strings.Contains(want.String(), "f 10000 ") {
		t.Fatalf("ls --deep does not list the deleted old.log (10000 bytes):\n%s", want.String())
	}
	m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}, vol: vol}, res.Image)
	if got := expectedOf(t, m.dir); got != want.String() {
		t.Errorf("through the mount:\n%s\nls --deep -r --hash sha256:\n%s", got, want.String())
	}
	checkAgainstLs(t, m, vol, res.Image)
	m.stop(t)
}

func TestMountRefusesWrites(t *testing.T) {
	res := genVolume(t, 6)
	m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, res.Image)
	vmx := filepath.Join(m.dir, "vm1/vm1.vmx")
	writes := map[string]mounttest.Op{
		"open for writing": {Call: "open-write", Path: vmx},
		"open to append":   {Call: "open-append", Path: vmx},
		"create":           {Call: "create", Path: filepath.Join(m.dir, "new")},
		"truncate":         {Call: "truncate", Path: vmx},
		"mkdir":            {Call: "mkdir", Path: filepath.Join(m.dir, "dir")},
		"unlink":           {Call: "remove", Path: vmx},
		"rmdir":            {Call: "rmdir", Path: filepath.Join(m.dir, "vm1")},
		"rename":           {Call: "rename", Path: vmx, To: vmx + ".old"},
		"chmod":            {Call: "chmod", Path: vmx},
		"utimes":           {Call: "chtimes", Path: vmx},
		"symlink":          {Call: "symlink", Path: "vm1.vmx", To: filepath.Join(m.dir, "vm1/l2")},
		"link":             {Call: "link", Path: vmx, To: filepath.Join(m.dir, "vm1/h2")},
		"setxattr":         {Call: "setxattr", Path: vmx},
	}
	var names []string
	var ops []mounttest.Op
	for what, op := range writes {
		names, ops = append(names, what), append(ops, op)
	}
	for i, err := range mounttest.Try(t, ops) {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", names[i], err)
		}
	}
	want, _ := res.Expected()
	if got := expectedOf(t, m.dir); got != want {
		t.Errorf("after the refused writes, through the mount:\n%s\nwant:\n%s", got, want)
	}
	m.stop(t)
}

func TestMountWaitsForABusyMountpoint(t *testing.T) {
	res := genVolume(t, 5)
	m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, res.Image)
	held := mounttest.Hold(t, filepath.Join(m.dir, "vm1/vm1.vmx"))
	m.cancel()
	time.Sleep(300 * time.Millisecond)
	if !isMountPoint(t, m.dir) {
		t.Error("unmounted while a file in it was open")
	}
	if b, err := held.Release(); err != nil || !strings.HasPrefix(string(b), "displayName") {
		t.Errorf("the open file, while the mount waits to unmount: %q, %v", b, err)
	}
	m.stop(t)
}

func TestMountNeedsAFolder(t *testing.T) {
	res := genVolume(t, 5)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(t.TempDir(), "missing")} {
		err := runMount(context.Background(), &mountOptions{globalOptions: &globalOptions{quiet: true}}, []string{res.Image, dir})
		if exitCode(err) != exitUsage {
			t.Errorf("mount on %s: %v (exit %d), want a usage error", dir, err, exitCode(err))
		}
	}
}

// TestMountShowsGuestFiles: beside the VMDK vm1.vmdk on a datastore the
// mount (--guests) shows vm1.vmdk@ with the disk's partitions and their files (the
// guest layer), and vm1.raw, the disk flattened: the guest's files read
// through the mount with the sha256 debugfs reads, and vm1.raw as the raw
// disk it was made of.
func TestMountShowsGuestFiles(t *testing.T) {
	raw, sums := guestDisk(t)
	ds := guestDatastore(t, raw)
	m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}, guests: true}, ds)
	for p, sum := range sums {
		if got := mounttest.SHA256(t, filepath.Join(m.dir, "vm1/vm1.vmdk@", p)); got != sum {
			t.Errorf("vm1/vm1.vmdk@%s through the mount: sha256 %s, debugfs reads %s", p, got, sum)
		}
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := mounttest.SHA256(t, filepath.Join(m.dir, "vm1/vm1.raw")); got != hex.EncodeToString(sum[:]) {
		t.Errorf("vm1/vm1.raw through the mount differs from the disk it was made of")
	}
	m.stop(t)
}

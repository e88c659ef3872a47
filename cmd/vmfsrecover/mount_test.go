package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/recover/mount"
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

// expectedOf lists the tree below dir in the format of ls -r --hash
// sha256 (and the test volumes' expected listings), read through the
// mount with the ordinary file calls.
func expectedOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		name := "/" + filepath.ToSlash(strings.TrimPrefix(p, dir+"/"))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			fmt.Fprintf(&b, "d %d - %s\n", fi.Size(), name)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "l %d %s %s\n", fi.Size(), target, name)
		default:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fmt.Fprintf(&b, "f %d %s %s\n", fi.Size(), hex.EncodeToString(h.Sum(nil)), name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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
		p := filepath.Join(m.dir, e.Path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", e.Path, err)
			continue
		}
		if listing.ModeString(fi.Mode()) != e.Mode || fi.Size() != e.Size || !fi.ModTime().Equal(e.MTime) {
			t.Errorf("%s through the mount: %s %d %s; ls: %s %d %s", e.Path, fi.Mode(), fi.Size(), fi.ModTime().UTC(), e.Mode, e.Size, e.MTime)
		}
		if e.Target != "" {
			if target, err := os.Readlink(p); err != nil || target != e.Target {
				t.Errorf("%s through the mount links to %q (%v); ls: %q", e.Path, target, err, e.Target)
			}
		}
		if e.VMFS != nil && e.VMFS.Links > 0 {
			if links := fi.Sys().(*syscall.Stat_t).Nlink; links != uint64(e.VMFS.Links) {
				t.Errorf("%s through the mount has %d links; the descriptor says %d", e.Path, links, e.VMFS.Links)
			}
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
	writes := map[string]func() error{
		"open for writing": func() error { return closeIfOpened(os.OpenFile(vmx, os.O_WRONLY, 0)) },
		"open to append":   func() error { return closeIfOpened(os.OpenFile(vmx, os.O_RDWR|os.O_APPEND, 0)) },
		"create":           func() error { return closeIfOpened(os.Create(filepath.Join(m.dir, "new"))) },
		"truncate":         func() error { return os.Truncate(vmx, 0) },
		"mkdir":            func() error { return os.Mkdir(filepath.Join(m.dir, "dir"), 0o755) },
		"unlink":           func() error { return os.Remove(vmx) },
		"rmdir":            func() error { return syscall.Rmdir(filepath.Join(m.dir, "vm1")) },
		"rename":           func() error { return os.Rename(vmx, vmx+".old") },
		"chmod":            func() error { return os.Chmod(vmx, 0o777) },
		"utimes":           func() error { return os.Chtimes(vmx, time.Now(), time.Now()) },
		"symlink":          func() error { return os.Symlink("vm1.vmx", filepath.Join(m.dir, "vm1/l2")) },
		"link":             func() error { return os.Link(vmx, filepath.Join(m.dir, "vm1/h2")) },
		"setxattr":         func() error { return syscall.Setxattr(vmx, "user.x", []byte("y"), 0) },
	}
	for what, write := range writes {
		if err := write(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", what, err)
		}
	}
	want, _ := res.Expected()
	if got := expectedOf(t, m.dir); got != want {
		t.Errorf("after the refused writes, through the mount:\n%s\nwant:\n%s", got, want)
	}
	m.stop(t)
}

func closeIfOpened(f *os.File, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}

func TestMountWaitsForABusyMountpoint(t *testing.T) {
	res := genVolume(t, 5)
	m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, res.Image)
	f, err := os.Open(filepath.Join(m.dir, "vm1/vm1.vmx"))
	if err != nil {
		t.Fatal(err)
	}
	m.cancel()
	time.Sleep(300 * time.Millisecond)
	if !isMountPoint(t, m.dir) {
		t.Error("unmounted while a file in it was open")
	}
	if b, err := io.ReadAll(f); err != nil || !strings.HasPrefix(string(b), "displayName") {
		t.Errorf("the open file, while the mount waits to unmount: %q, %v", b, err)
	}
	f.Close()
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

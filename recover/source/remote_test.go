package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// remoteVolume writes a VMFS volume whose listing the remote tests check.
func remoteVolume(t *testing.T) *vmfstest.Result {
	t.Helper()
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "ds.img"), vmfstest.Spec{Version: 5, Label: "far", Partition: "gpt", Files: []vmfstest.Entry{
		{Path: "vm/vm.vmx", Data: []byte("displayName = \"vm\"\n")},
		{Path: "vm/vm-flat.vmdk", Size: 3<<20 + 5, Seed: 11},
		{Path: "notes.txt", Data: []byte("remote\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkDiscovered opens spec as discover does for every command and
// compares the volume's listing with what the generator wrote.
func checkDiscovered(t *testing.T, spec string, res *vmfstest.Result) {
	t.Helper()
	srcs, err := source.ForDiscover([]string{spec}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vol, s, err := discover.OpenVolume(srcs, "", discover.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var lines []string
	err = listing.Walk(context.Background(), vol, ".", listing.Options{Recursive: true, Hash: true}, func(e listing.Entry, err error) error {
		if err != nil {
			return err
		}
		lines = append(lines, e.Expected())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pathOf := func(l string) string { return l[strings.LastIndex(l, " /")+1:] }
	sort.Slice(lines, func(i, j int) bool { return pathOf(lines[i]) < pathOf(lines[j]) })
	want, err := res.Expected()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "\n") + "\n"; got != want {
		t.Fatalf("listing of %s differs\n got:\n%s\nwant:\n%s", spec, got, want)
	}
	if tr, ok := s.Sources[0].Disk.(source.Transferrer); !ok || tr.Transferred() == 0 {
		t.Errorf("remote disk reports no transferred bytes (%T)", s.Sources[0].Disk)
	}
}

func TestOpenNBDSource(t *testing.T) {
	res := remoteVolume(t)
	srv := remotetest.StartQemuNBD(t, res.Image, "raw", "ds")
	checkDiscovered(t, srv.URL("ds"), res)
}

// sshEnv points the VMFSRECOVER_SSH_* variables at the test server and
// keeps the user's own keys and agent out.
func sshEnv(t *testing.T, srv *remotetest.SSHD) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv(remote.EnvKnownHosts, srv.KnownHosts(srv.HostKey))
	t.Setenv(remote.EnvIdentity, srv.Identity)
	t.Setenv(remote.EnvRetryFor, "5s")
}

func TestOpenSSHSourceRawAndVMDK(t *testing.T) {
	res := remoteVolume(t)
	srv := remotetest.StartSSHD(t)
	sshEnv(t, srv)
	checkDiscovered(t, srv.URL(res.Image), res)

	testenv.Tool(t, "qemu-img")
	// A split sparse VMDK: its extents are separate files on the host.
	desc := filepath.Join(t.TempDir(), "ds.vmdk")
	if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", res.Image, desc).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	checkDiscovered(t, srv.URL(desc), res)

	// info and dump need the vmdk.Disk itself.
	d, closeFn, err := source.OpenVMDK(srv.URL(desc), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	fi, _ := os.Stat(res.Image)
	if d.Size() != fi.Size() {
		t.Fatalf("OpenVMDK: size %d, want %d", d.Size(), fi.Size())
	}
	img, _ := os.Open(res.Image)
	defer img.Close()
	want, got := make([]byte, 8<<20), make([]byte, 8<<20)
	img.ReadAt(want, 0)
	if _, err := d.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("OpenVMDK: content differs (%v)", err)
	}
	if info := d.Info(); len(info.Extents) < 1 || info.Extents[0].Format != "sparse" || info.Extents[0].File == "" {
		t.Errorf("OpenVMDK: info %+v", info)
	}
	if _, _, err := source.OpenVMDK("nbd://127.0.0.1:1/x", source.Options{}); !errors.Is(err, remote.ErrBadURL) {
		t.Errorf("OpenVMDK(nbd://): err = %v, want ErrBadURL", err)
	}
}

func TestOpenRemoteErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.img")
	os.WriteFile(empty, nil, 0o644)
	srv := remotetest.StartQemuNBD(t, empty, "raw", "")
	if _, err := source.Open(srv.URL(""), source.Options{}); !errors.Is(err, source.ErrEmpty) {
		t.Errorf("empty export: err = %v, want ErrEmpty", err)
	}
	for _, spec := range []string{"ftp://host/x", "ssh://host", "ssh://user:secret@host/dev/sdb", "nbd://"} {
		_, err := source.Open(spec, source.Options{})
		if !errors.Is(err, remote.ErrBadURL) {
			t.Errorf("%s: err = %v, want ErrBadURL", spec, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the password shows in the error: %v", spec, err)
		}
	}
}

// A deep scan over NBD, where the server tells which ranges read as zeros
// and the client does not fetch them, finds exactly what the local scan of
// the image finds, and transfers a fraction of the disk.
func TestDeepScanOverNBDMatchesLocal(t *testing.T) {
	res := remoteVolume(t)
	scan := func(spec string) ([]byte, int64) {
		d, err := source.Open(spec, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		f := deepscan.New("", "", d.Size())
		if err := deepscan.Scan(context.Background(), d, f, deepscan.Options{}); err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var moved int64
		if tr, ok := d.(source.Transferrer); ok {
			moved = tr.Transferred()
		}
		return js, moved
	}
	want, _ := scan(res.Image)
	if !bytes.Contains(want, []byte(`"fds"`)) {
		t.Fatalf("the local scan found no file descriptors: %s", want)
	}
	servers := map[string]*remotetest.NBD{"qemu-nbd": remotetest.StartQemuNBD(t, res.Image, "raw", "")}
	if _, ok := testenv.LookTool(t, "nbdkit"); ok {
		servers["nbdkit"] = remotetest.StartNBDKit(t, res.Image)
	}
	for name, srv := range servers {
		got, moved := scan(srv.URL(""))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: deep scan findings differ from the local scan's\n got: %s\nwant: %s", name, got, want)
		}
		fi, _ := os.Stat(res.Image)
		if moved <= 0 || moved > fi.Size()/4 {
			t.Errorf("%s: the scan transferred %d bytes of a %d-byte disk", name, moved, fi.Size())
		}
	}
}

// A deep scan made where the disk is (at the disk's speed, by vmfsrecover
// run on that host) serves a recovery over the link: its scan file, copied
// into the scan folder here, is found by the source's identity, so the
// disk is not read across the link again, and the files come back exact.
func TestRemoteReusesScanFileMadeOnTheHost(t *testing.T) {
	res := remoteVolume(t)
	scanDir := t.TempDir()
	local, err := source.Open(res.Image, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := deepscan.Run(context.Background(), local, local.Size(), res.Image, deepscan.RunOptions{Dir: scanDir}); err != nil {
		t.Fatal(err)
	}
	local.Close()

	srv := remotetest.StartSSHD(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv(remote.EnvKnownHosts, srv.KnownHosts(srv.HostKey))
	t.Setenv(remote.EnvIdentity, srv.Identity)
	var received func() int64
	scanned := false
	srcs, err := source.ForDeepScan([]string{srv.URL(res.Image)}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := deepscan.ScanSources(context.Background(), srcs, deepscan.SourcesOptions{Dir: scanDir,
		Progress: func(_ string, _ int64, r func() int64) (func(int64, int64), func()) {
			received = r
			return func(int64, int64) { scanned = true }, func() {}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, _ := os.Stat(res.Image)
	if scanned || received == nil || received() > fi.Size()/4 { // read-ahead speculates: 10-34 MB seen
		t.Errorf("scanned again: %v; %d bytes of the %d-byte disk crossed the link", scanned, received(), fi.Size())
	}
	t.Logf("%d bytes of the %d-byte disk crossed the link to check and reuse the scan file", received(), fi.Size())
	vol, err := deepscan.Select(s.Volumes, "")
	if err != nil {
		t.Fatal(err)
	}
	h, err := listing.HashFile(vol.Tree, "vm/vm-flat.vmdk")
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, e := range res.Entries {
		if e.Path == "/vm/vm-flat.vmdk" {
			want, _ = e.SHA256()
		}
	}
	if h != want {
		t.Errorf("vm-flat.vmdk over the link: sha256 %s, want %s", h, want)
	}
}

package bootbank

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/netcfg"
	"github.com/vmfsrecover/vmfsrecover/netcfg/envelope"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

// loadSource reads a SOURCE as the command line does.
func loadSource(spec string, opt Options) (*netcfg.Input, error) {
	loc, err := disk.LocateOrOpen(spec, disk.Options{})
	if err != nil {
		return nil, err
	}
	defer loc.Close()
	return LoadFrom(loc, opt)
}

func TestLoadSourceVMDK(t *testing.T) {
	testenv.Tool(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "esxi-boot.img")
	bank := bankImage(t, "bootstate=0\nupdated=1\n", stateTgz(t, "vmdk.example"))
	if err := os.WriteFile(raw, mbrDisk(bank), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"monolithicSparse", "streamOptimized"} {
		t.Run(sub, func(t *testing.T) {
			out := filepath.Join(dir, sub+".vmdk")
			if b, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+sub, raw, out).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img: %v\n%s", err, b)
			}
			in, err := loadSource(out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if hostname(t, in) != "vmdk.example" {
				t.Errorf("origin %q", in.Origin)
			}
		})
	}
}

func TestLoadSourceEnvelopeBesideKeystore(t *testing.T) {
	dir := t.TempDir()
	ve, info, err := envelope.Seal(localTgz(t, "beside.example"), sealParams)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "local.tgz.ve"), ve, 0o644)
	if _, err := loadSource(filepath.Join(dir, "local.tgz.ve"), Options{}); err == nil {
		t.Fatal("loaded without encryption.info")
	}
	os.WriteFile(filepath.Join(dir, ".#encryption.info"), info, 0o644)
	in, err := loadSource(filepath.Join(dir, "local.tgz.ve"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "beside.example" {
		t.Error("wrong host")
	}
}

func TestLoadDir(t *testing.T) {
	// An extracted vm-support bundle: etc/ one folder down.
	dir := t.TempDir()
	etc := filepath.Join(dir, "esx-host-2024", "etc")
	os.MkdirAll(filepath.Join(etc, "vmware"), 0o755)
	os.WriteFile(filepath.Join(etc, "vmware", "esx.conf"), readFixture(t, "esx6x/esx.conf"), 0o644)
	os.WriteFile(filepath.Join(etc, "resolv.conf"), readFixture(t, "esx6x/resolv.conf"), 0o644)
	in, err := loadSource(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "esx67.dc1.example" || in.ResolvConf == nil || in.Origin != dir+"/esx-host-2024 > etc/vmware/esx.conf" {
		t.Errorf("origin %q", in.Origin)
	}

	// A copied bootbank.
	bank := t.TempDir()
	os.WriteFile(filepath.Join(bank, "boot.cfg"), []byte("build=6.7.0-1\n"), 0o644)
	os.WriteFile(filepath.Join(bank, "state.tgz"), stateTgz(t, "copied.example"), 0o644)
	in, err = loadSource(bank, Options{})
	if err != nil || hostname(t, in) != "copied.example" || in.BootBuild != "6.7.0-1" {
		t.Errorf("bank folder: %v %+v", err, in)
	}

	if _, err := loadSource(t.TempDir(), Options{}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("empty folder: %v", err)
	}
}

// netcfg takes remote SOURCEs as the other commands do: over ssh:// an
// esx.conf, a bootbank folder, an encrypted local.tgz.ve beside its
// keystore and a boot disk VMDK, read on the host; over nbd:// a boot disk.
func TestLoadSourceRemote(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "esx.conf"), readFixture(t, "esx6x/esx.conf"), 0o644)
	bank := filepath.Join(dir, "bootbank")
	os.Mkdir(bank, 0o755)
	os.WriteFile(filepath.Join(bank, "boot.cfg"), []byte("build=6.7.0-1\n"), 0o644)
	os.WriteFile(filepath.Join(bank, "state.tgz"), stateTgz(t, "bank.example"), 0o644)
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o755)
	ve, info, err := envelope.Seal(localTgz(t, "sealed.example"), sealParams)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(keys, "local.tgz.ve"), ve, 0o644)
	os.WriteFile(filepath.Join(keys, "encryption.info"), info, 0o644)
	bootImg := filepath.Join(dir, "boot.img")
	os.WriteFile(bootImg, mbrDisk(bankImage(t, "bootstate=0\nupdated=1\n", stateTgz(t, "disk.example"))), 0o644)
	want := map[string]string{
		"esx.conf":          "esx67.dc1.example",
		"bootbank":          "bank.example",
		"keys/local.tgz.ve": "sealed.example",
		"boot.img":          "disk.example",
	}
	if _, ok := testenv.LookTool(t, "qemu-img"); ok {
		out := filepath.Join(dir, "boot.vmdk")
		if b, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", bootImg, out).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v\n%s", err, b)
		}
		want["boot.vmdk"] = "disk.example"
	}

	srv := remotetest.StartSSHD(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv(remote.EnvKnownHosts, srv.KnownHosts(srv.HostKey))
	t.Setenv(remote.EnvIdentity, srv.Identity)
	for name, host := range want {
		spec := srv.URL(filepath.Join(dir, name))
		in, err := loadSource(spec, Options{})
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if got := hostname(t, in); got != host {
			t.Errorf("%s: host %q, want %q", spec, got, host)
		}
	}
	missing := srv.URL(filepath.Join(dir, "nope.conf"))
	if _, err := loadSource(missing, Options{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing remote file: err = %v, want ErrNotExist naming %s", err, missing)
	}

	nbd := remotetest.StartQemuNBD(t, bootImg, "raw", "")
	in, err := loadSource(nbd.URL(""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := hostname(t, in); got != "disk.example" {
		t.Errorf("boot disk over NBD: host %q", got)
	}
}

package bootbank

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/netcfg/envelope"
)

func TestLoadFileVMDK(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (Debian: qemu-utils)")
	}
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
			in, err := LoadFile(out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if hostname(t, in) != "vmdk.example" {
				t.Errorf("origin %q", in.Origin)
			}
		})
	}
}

func TestLoadFileEnvelopeBesideKeystore(t *testing.T) {
	dir := t.TempDir()
	ve, info, err := envelope.Seal(localTgz(t, "beside.example"), sealParams)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "local.tgz.ve"), ve, 0o644)
	if _, err := LoadFile(filepath.Join(dir, "local.tgz.ve"), Options{}); err == nil {
		t.Fatal("loaded without encryption.info")
	}
	os.WriteFile(filepath.Join(dir, ".#encryption.info"), info, 0o644)
	in, err := LoadFile(filepath.Join(dir, "local.tgz.ve"), Options{})
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
	in, err := LoadFile(dir, Options{})
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
	in, err = LoadFile(bank, Options{})
	if err != nil || hostname(t, in) != "copied.example" || in.BootBuild != "6.7.0-1" {
		t.Errorf("bank folder: %v %+v", err, in)
	}

	if _, err := LoadFile(t.TempDir(), Options{}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("empty folder: %v", err)
	}
}

package bootbank

import (
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
			in, err := LoadFile(out)
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
	if _, err := LoadFile(filepath.Join(dir, "local.tgz.ve")); err == nil {
		t.Fatal("loaded without encryption.info")
	}
	os.WriteFile(filepath.Join(dir, ".#encryption.info"), info, 0o644)
	in, err := LoadFile(filepath.Join(dir, "local.tgz.ve"))
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "beside.example" {
		t.Error("wrong host")
	}
}

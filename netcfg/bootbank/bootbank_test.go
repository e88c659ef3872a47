package bootbank

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/netcfg"
	"github.com/vmfsrecover/vmfsrecover/netcfg/envelope"
	"github.com/vmfsrecover/vmfsrecover/netcfg/internal/fixture"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/fat/fattest"
)

func readFixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile(testenv.Testdata(t, "esx", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func localTgz(t testing.TB, hostname string) []byte {
	conf := strings.Replace(string(readFixture(t, "esx6x/esx.conf")), "esx67.dc1.example", hostname, 1)
	return fixture.Tgz(
		fixture.File{Name: "etc/vmware/esx.conf", Data: []byte(conf)},
		fixture.File{Name: "./etc/resolv.conf", Data: readFixture(t, "esx6x/resolv.conf")},
		fixture.File{Name: "etc/vmware/dvsdata.db", Data: []byte("dvs")},
		fixture.File{Name: "etc/shadow", Data: []byte("root:x:")},
	)
}

func stateTgz(t testing.TB, hostname string) []byte {
	return fixture.Tgz(fixture.File{Name: "local.tgz", Data: localTgz(t, hostname)})
}

func load(t *testing.T, data []byte, opt Options) (*netcfg.Input, error) {
	t.Helper()
	return Load(bytes.NewReader(data), int64(len(data)), "src", opt)
}

func hostname(t *testing.T, in *netcfg.Input) string {
	t.Helper()
	h := netcfg.Build(in)
	if len(h.VMKs) != 6 {
		t.Errorf("%d vmks, want 6", len(h.VMKs))
	}
	return h.Hostname.V
}

func TestPlainAndArchives(t *testing.T) {
	for _, c := range []struct {
		name   string
		data   []byte
		origin string
	}{
		{"esx.conf", readFixture(t, "esx6x/esx.conf"), "src"},
		{"local.tgz", localTgz(t, "esx67.dc1.example"), "src > etc/vmware/esx.conf"},
		{"state.tgz", stateTgz(t, "esx67.dc1.example"), "src > local.tgz > etc/vmware/esx.conf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := load(t, c.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if in.Origin != c.origin || hostname(t, in) != "esx67.dc1.example" {
				t.Errorf("origin %q", in.Origin)
			}
			if c.name != "esx.conf" && (in.ResolvConf == nil || !strings.Contains(strings.Join(in.Notes, " "), "dvsdata.db")) {
				t.Errorf("resolv.conf or dvsdata.db note missing: %v", in.Notes)
			}
		})
	}
}

var sealParams = envelope.SealParams{KeyID: []byte("0123456789abcdef"), Data1: []byte("d1"), Data2: []byte("d2"), IV: []byte("WMV_\x00\x00\x00\x00\x00\x00\x00\x00")}

// sealed caches the envelope: PBKDF2 with 100 000 rounds is slow under -race.
var sealed struct {
	sync.Once
	ve, info []byte
	err      error
}

func encryptedState(t testing.TB, mode string) []byte {
	sealed.Do(func() { sealed.ve, sealed.info, sealed.err = envelope.Seal(localTgz(t, "esx70u3.example"), sealParams) })
	ve, info, err := sealed.ve, bytes.Clone(sealed.info), sealed.err
	if err != nil {
		t.Fatal(err)
	}
	info = bytes.Replace(info, []byte(`mode = "NONE"`), []byte(`mode = "`+mode+`"`), 1)
	return fixture.Tgz(fixture.File{Name: "local.tgz.ve", Data: ve}, fixture.File{Name: ".#encryption.info", Data: info})
}

func TestEncryptedState(t *testing.T) {
	in, err := load(t, encryptedState(t, "NONE"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "esx70u3.example" || !strings.Contains(strings.Join(in.Notes, " "), "decrypted local.tgz.ve") {
		t.Errorf("notes %v", in.Notes)
	}
	_, err = load(t, encryptedState(t, "TPM"), Options{})
	if !errors.Is(err, envelope.ErrTPM) || !strings.Contains(err.Error(), "TPM") {
		t.Errorf("TPM: %v", err)
	}

	// A bare local.tgz.ve needs encryption.info beside it.
	ve, info, _ := envelope.Seal(localTgz(t, "bare.example"), sealParams)
	if _, err := load(t, ve, Options{}); !errors.Is(err, ErrNeedKeystore) {
		t.Errorf("bare envelope without keystore: %v", err)
	}
	in, err = load(t, ve, Options{EncryptionInfo: info})
	if err != nil || hostname(t, in) != "bare.example" {
		t.Errorf("bare envelope: %v", err)
	}
}

func TestDamagedArchives(t *testing.T) {
	st := stateTgz(t, "x")
	if _, err := load(t, st[:len(st)/2], Options{}); !errors.Is(err, ErrArchive) {
		t.Errorf("truncated state.tgz: %v", err)
	}
	defer func(m, u int64) { maxMember, maxUnpacked = m, u }(maxMember, maxUnpacked)
	maxMember, maxUnpacked = 1<<20, 4<<20
	big := fixture.Tgz(fixture.File{Name: "etc/vmware/esx.conf", Data: make([]byte, maxMember+1)})
	if _, err := load(t, big, Options{}); !errors.Is(err, ErrArchive) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized member: %v", err)
	}
	// A gzip bomb: members nobody wants still count against the limit.
	bomb := fixture.Tgz(fixture.File{Name: "junk1", Data: make([]byte, 3<<20)}, fixture.File{Name: "junk2", Data: make([]byte, 3<<20)},
		fixture.File{Name: "etc/vmware/esx.conf", Data: []byte(`/a = "b"`)})
	if _, err := load(t, bomb, Options{}); !errors.Is(err, ErrArchive) || !strings.Contains(err.Error(), "uncompressed") {
		t.Errorf("gzip bomb: %v", err)
	}
	empty := fixture.Tgz(fixture.File{Name: "etc/motd", Data: []byte("hi")})
	if _, err := load(t, empty, Options{}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("archive without config: %v", err)
	}
	if _, err := load(t, []byte("\x7fELF binary"), Options{}); !errors.Is(err, ErrUnknownSource) {
		t.Errorf("unknown source: %v", err)
	}
}

func bankImage(t testing.TB, bootcfg string, state []byte) []byte {
	files := map[string][]byte{"boot.cfg": []byte(bootcfg)}
	if state != nil {
		files["state.tgz"] = state
	}
	img, err := fattest.FAT16(8<<20, "BOOTBANK1", files)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestBootbankImage(t *testing.T) {
	img := bankImage(t, "bootstate=0\nbuild=6.7.0-8169922\nupdated=2\nmodules=b.b00 --- state.tgz\n", stateTgz(t, "bank.example"))
	in, err := load(t, img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "bank.example" || in.BootBuild != "6.7.0-8169922" || in.Origin != "src > state.tgz > local.tgz > etc/vmware/esx.conf" {
		t.Errorf("origin %q build %q", in.Origin, in.BootBuild)
	}
}

// TestBootbankMtools builds the bank with mkfs.vfat and mcopy, as a real
// FAT16 writer lays it out.
func TestBootbankMtools(t *testing.T) {
	for _, tool := range []string{"mkfs.vfat", "mcopy"} {
		testenv.Tool(t, tool)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "bank.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, 32<<20)
	files := map[string][]byte{"boot.cfg": []byte("bootstate=0\nupdated=5\n"), "state.tgz": encryptedState(t, "NONE")}
	run := func(args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("mkfs.vfat", "-F", "16", "-n", "BOOTBANK1", img)
	for name, data := range files {
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
		run("mcopy", "-i", img, filepath.Join(dir, name), "::"+name)
	}
	data, _ := os.ReadFile(img)
	in, err := load(t, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "esx70u3.example" {
		t.Error("wrong host")
	}
}

// mbrDisk lays out images as MBR primary partitions of type 0x06, 1 MiB apart.
func mbrDisk(parts ...[]byte) []byte {
	off := int64(1 << 20)
	var disk []byte
	mbr := make([]byte, 512)
	for i, p := range parts {
		e := mbr[0x1BE+16*i:]
		e[4] = 0x06
		binary.LittleEndian.PutUint32(e[8:], uint32(off/512))
		binary.LittleEndian.PutUint32(e[12:], uint32(len(p)/512))
		need := off + int64(len(p))
		if int64(len(disk)) < need {
			disk = append(disk, make([]byte, need-int64(len(disk)))...)
		}
		copy(disk[off:], p)
		off = need + 1<<20
	}
	mbr[510], mbr[511] = 0x55, 0xAA
	copy(disk, mbr)
	return append(disk, make([]byte, 1<<20)...)
}

func TestBootDiskChoosesActiveBank(t *testing.T) {
	old := bankImage(t, "bootstate=0\nupdated=3\nbuild=6.5.0\n", stateTgz(t, "old.example"))
	cur := bankImage(t, "bootstate=0\nupdated=4\nbuild=6.7.0\n", stateTgz(t, "new.example"))
	failed := bankImage(t, "bootstate=1\nupdated=9\nbuild=7.0.0\n", stateTgz(t, "failed.example"))

	for _, c := range []struct {
		name  string
		disk  []byte
		host  string
		build string
	}{
		{"higher updated wins", mbrDisk(old, cur), "new.example", "6.7.0"},
		{"order does not matter", mbrDisk(cur, old), "new.example", "6.7.0"},
		{"bootstate 0 beats a higher updated", mbrDisk(failed, old), "old.example", "6.5.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := load(t, c.disk, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if hostname(t, in) != c.host || in.BootBuild != c.build {
				t.Errorf("host %q build %q; notes %v", hostname(t, in), in.BootBuild, in.Notes)
			}
			if !strings.Contains(in.Origin, "partition") {
				t.Errorf("origin %q does not name the partition", in.Origin)
			}
		})
	}

	// The preferred bank's state.tgz is damaged: fall back to the other one.
	broken := bankImage(t, "bootstate=0\nupdated=7\n", []byte("\x1f\x8bnot really gzip"))
	in, err := load(t, mbrDisk(broken, old), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "old.example" || !strings.Contains(strings.Join(in.Notes, "\n"), "unreadable") {
		t.Errorf("fallback: %v", in.Notes)
	}

	// The other bank's state.tgz is newer than the chosen one's: warn.
	when := func(day int) []byte {
		img, err := fattest.FAT16At(8<<20, "BOOTBANK", map[string][]byte{"boot.cfg": []byte(fmt.Sprintf("bootstate=0\nupdated=%d\n", 10-day)), "state.tgz": stateTgz(t, "x.example")},
			time.Date(2024, 3, day, 12, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	in, err = load(t, mbrDisk(when(1), when(5)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(in.Notes, "\n"); !strings.Contains(notes, "WARNING: the other bootbank's state.tgz (2024-03-05 12:00:00) is newer than the chosen one's (2024-03-01 12:00:00); run again with --partition 2") {
		t.Errorf("newer other bank not reported: %s", notes)
	}

	// --partition reads the bank asked for.
	in, err = load(t, mbrDisk(old, cur), Options{Partition: 1})
	if err != nil || hostname(t, in) != "old.example" {
		t.Errorf("partition 1: %v", err)
	}
	if _, err := load(t, mbrDisk(old, cur), Options{Partition: 3}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("partition 3: %v", err)
	}

	// No bank at all.
	noBank, _ := fattest.FAT16(4<<20, "DATA", map[string][]byte{"x.txt": []byte("x")})
	if _, err := load(t, mbrDisk(noBank), Options{}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("disk without a bank: %v", err)
	}
}

// TestGPTBootDisk lays out an ESXi 6.x-style GPT boot disk with sgdisk
// (partitions 1, 5, 6, 7, 8 as the 6.7 installer's table, sizes scaled down).
func TestGPTBootDisk(t *testing.T) {
	testenv.Tool(t, "sgdisk")
	img := filepath.Join(t.TempDir(), "boot.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, 64<<20)
	bank1 := bankImage(t, "bootstate=0\nupdated=1\n", stateTgz(t, "gpt-old.example"))
	bank2 := bankImage(t, "bootstate=0\nupdated=2\nbuild=6.7.0-8169922\n", stateTgz(t, "gpt.example"))
	const basic, diag, efi = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "9D275380-40AD-11DB-BF97-000C2911D1B8", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	sectors := func(b []byte) int { return len(b) / 512 }
	start5 := 8224
	start6 := start5 + sectors(bank1) + 32
	args := []string{
		"-a", "32",
		"-n", "1:64:8191", "-t", "1:" + efi,
		"-n", fmt.Sprintf("5:%d:%d", start5, start5+sectors(bank1)-1), "-t", "5:" + basic,
		"-n", fmt.Sprintf("6:%d:%d", start6, start6+sectors(bank2)-1), "-t", "6:" + basic,
		"-n", fmt.Sprintf("7:%d:%d", start6+sectors(bank2)+32, start6+sectors(bank2)+32+4095), "-t", "7:" + diag,
		img,
	}
	if out, err := exec.Command("sgdisk", args...).CombinedOutput(); err != nil {
		t.Fatalf("sgdisk: %v\n%s", err, out)
	}
	disk, _ := os.ReadFile(img)
	copy(disk[start5*512:], bank1)
	copy(disk[start6*512:], bank2)
	in, err := load(t, disk, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "gpt.example" || !strings.Contains(in.Origin, "partition 6") {
		t.Errorf("origin %q notes %v", in.Origin, in.Notes)
	}
}

func TestParseBootCfg(t *testing.T) {
	c := ParseBootCfg([]byte("bootstate=0\ntitle=Loading VMware ESXi\ntimeout=5\nprefix=\nkernel=b.b00\nkernelopt=runweasel\nmodules=b.b00 --- jumpstrt.gz --- useropts.gz --- state.tgz\nbuild=7.0.3-0.50.20036589\nupdated=3\n"))
	if c.BootState != "0" || c.Updated != "3" || c.Build != "7.0.3-0.50.20036589" || len(c.Modules) != 4 || c.Modules[3] != "state.tgz" {
		t.Errorf("%+v", c)
	}
}

func TestVMSupportBundle(t *testing.T) {
	conf := readFixture(t, "esx6x/esx.conf")
	bundle := fixture.Tgz(
		fixture.File{Name: "esx-esx67-2024-05-01--10.00-12345/commands/esxcfg-vmknic_-l.txt", Data: []byte("Interface ...")},
		fixture.File{Name: "esx-esx67-2024-05-01--10.00-12345/etc/vmware/esx.conf", Data: conf},
		fixture.File{Name: "esx-esx67-2024-05-01--10.00-12345/etc/resolv.conf", Data: readFixture(t, "esx6x/resolv.conf")},
		fixture.File{Name: "esx-esx67-2024-05-01--10.00-12345/etc/vmware/configstore/current-store-1", Data: []byte("SQLite format 3\x00")},
		fixture.File{Name: "esx-esx67-2024-05-01--10.00-12345/deeper/etc/hosts", Data: []byte("10.9.9.9 wrong")},
	)
	in, err := load(t, bundle, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if hostname(t, in) != "esx67.dc1.example" || in.ResolvConf == nil || in.Hosts != nil || in.ConfigStoreData == nil {
		t.Errorf("bundle: origin %q hosts %q store %d bytes", in.Origin, in.Hosts, len(in.ConfigStoreData))
	}
	if !strings.Contains(strings.Join(in.Notes, "\n"), "vm-support bundle") {
		t.Errorf("notes %v", in.Notes)
	}
}

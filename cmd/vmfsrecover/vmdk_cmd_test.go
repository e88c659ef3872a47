package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// The -update flag rewrites golden files; registered here unless another
// test file of the package already did.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func vmdkSample(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(testenv.Testdata(t, "vmdk", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// golden compares got with testdata/name after replacing dir with $DIR.
func golden(t *testing.T, name, dir string, got []byte) {
	t.Helper()
	// Column widths depend on the length of dir: compare with runs of
	// blanks collapsed.
	got = bytes.ReplaceAll(got, []byte(dir), []byte("$DIR"))
	got = regexp.MustCompile(` {2,}`).ReplaceAll(got, []byte("  "))
	p := filepath.Join("testdata", name)
	if updating() {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", p, got)
	}
}

func TestInfoGolden(t *testing.T) {
	src := vmdkSample(t, "chain/child.vmdk")
	dir := filepath.Dir(filepath.Dir(src))
	for _, js := range []bool{false, true} {
		var out bytes.Buffer
		o := &infoOptions{globalOptions: &globalOptions{json: js}}
		if err := runInfo(context.Background(), o, src, &out); err != nil {
			t.Fatal(err)
		}
		name := "info-chain.golden"
		if js {
			name = "info-chain.json.golden"
			var v map[string]any
			if err := json.Unmarshal(out.Bytes(), &v); err != nil || v["allocated"] == nil {
				t.Fatalf("JSON: %v %v", err, v)
			}
		}
		golden(t, name, dir, out.Bytes())
	}
}

func TestInfoRawAndWarnings(t *testing.T) {
	dir := t.TempDir()
	flat := filepath.Join(dir, "lost-flat.vmdk")
	os.WriteFile(flat, bytes.Repeat([]byte{1}, 1<<20), 0o644)
	var out bytes.Buffer
	if err := runInfo(context.Background(), &infoOptions{globalOptions: &globalOptions{}}, flat, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Saved as lost.vmdk") || !strings.Contains(out.String(), `RW 2048 VMFS "lost-flat.vmdk"`) {
		t.Errorf("raw info:\n%s", out.String())
	}
	// A delta whose parent is gone: an error, or exit status 3 when tolerant.
	desc := filepath.Join(dir, "snap.vmdk")
	os.WriteFile(desc, []byte("parentFileNameHint=\"gone.vmdk\"\nparentCID=12345678\nRW 2048 VMFS \"lost-flat.vmdk\"\n"), 0o644)
	err := runInfo(context.Background(), &infoOptions{globalOptions: &globalOptions{}}, desc, &out)
	if exitCode(err) != exitFailure {
		t.Errorf("missing parent: %v (exit %d)", err, exitCode(err))
	}
	out.Reset()
	err = runInfo(context.Background(), &infoOptions{globalOptions: &globalOptions{}, tolerant: true}, desc, &out)
	if exitCode(err) != exitPartial || !strings.Contains(out.String(), "gone.vmdk (MISSING: reads as zeros)") {
		t.Errorf("tolerant missing parent: %v (exit %d)\n%s", err, exitCode(err), out.String())
	}
}

func TestDump(t *testing.T) {
	sums, err := os.ReadFile(testenv.Testdata(t, "vmdk", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		want, name, _ := strings.Cut(line, "  ")
		dst := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".raw")
		var out, errOut bytes.Buffer
		o := &dumpOptions{globalOptions: &globalOptions{json: true}, output: dst}
		if err := runDump(context.Background(), o, vmdkSample(t, name), &out, &errOut); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var res dumpResult
		b, _ := os.ReadFile(dst)
		if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Size != int64(len(b)) || res.Size == 0 || res.Written > res.Allocated {
			t.Errorf("%s: report %s (%v)", name, out.String(), err)
		}
		h := sha256.Sum256(b)
		if got := hex.EncodeToString(h[:]); got != want {
			t.Errorf("%s: dump sha256 %s, want %s", name, got, want)
		}
		// Holes stay holes: the child has a zeroed 64 KiB grain.
		var st syscall.Stat_t
		if name == "chain/child.vmdk" && syscall.Stat(dst, &st) == nil && st.Blocks*512 > (int64(len(b))+4095)&^4095-65536 {
			t.Errorf("%s: output not sparse (%d blocks for %d bytes)", name, st.Blocks, len(b))
		}
		// Refuses to overwrite without --force.
		err := runDump(context.Background(), o, vmdkSample(t, name), &out, &errOut)
		if exitCode(err) != exitUsage {
			t.Errorf("%s: second dump: %v", name, err)
		}
	}
	// The source itself is never the output.
	src := vmdkSample(t, "qemu/monolithicSparse.vmdk")
	err = runDump(context.Background(), &dumpOptions{globalOptions: &globalOptions{}, output: src, force: true}, src, new(bytes.Buffer), new(bytes.Buffer))
	if exitCode(err) != exitFailure || !errors.Is(err, writeguard.ErrSource) {
		t.Errorf("dump onto the source: %v", err)
	}
}

// dump --unmapped-from-parent writes the parent's data where the guest
// unmapped grains of an SESparse snapshot; without it, zeros.
func TestDumpUnmappedFromParent(t *testing.T) {
	dir := t.TempDir()
	base := bytes.Repeat([]byte{0xB0}, 64<<10)
	os.WriteFile(filepath.Join(dir, "b-flat.vmdk"), base, 0o644)
	os.WriteFile(filepath.Join(dir, "b.vmdk"), []byte(vmdktest.Descriptor("vmfs", "VMFS", "b-flat.vmdk", 128, 1, 0xFFFFFFFF, "")), 0o644)
	unmapped := func(int64) vmdktest.Kind { return vmdktest.Unmapped }
	if err := vmdktest.WriteSESparse(filepath.Join(dir, "s-sesparse.vmdk"), make([]byte, 64<<10), unmapped); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "s.vmdk")
	os.WriteFile(child, []byte(vmdktest.Descriptor("seSparse", "SESPARSE", "s-sesparse.vmdk", 128, 2, 1, "b.vmdk")), 0o644)
	for _, fromParent := range []bool{false, true} {
		dst := filepath.Join(dir, fmt.Sprintf("out-%v.raw", fromParent))
		o := &dumpOptions{globalOptions: &globalOptions{quiet: true}, output: dst, unmapped: fromParent}
		if err := runDump(context.Background(), o, child, new(bytes.Buffer), new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dst)
		want := make([]byte, 64<<10)
		if fromParent {
			want = base
		}
		if !bytes.Equal(got, want) {
			t.Errorf("--unmapped-from-parent=%v: the dump differs from the expected %x...", fromParent, want[:4])
		}
	}
}

// info --search on a guest disk whose first megabyte and ext4 head are
// destroyed: it places the file system by a backup superblock and prints
// the dump, e2fsck and mount commands; the dump it prints writes exactly
// the file system's bytes, and its e2fsck brings the head back.
func TestInfoSearchAndDumpRange(t *testing.T) {
	disk, at, size := encryptedGuest(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "guest-flat.vmdk")
	os.WriteFile(src, disk, 0o644)
	var out bytes.Buffer
	err := runInfo(context.Background(), &infoOptions{globalOptions: &globalOptions{quiet: true}, search: true}, src, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		fmt.Sprintf("vmfsrecover dump %s --offset %d --length %d -o ext4-%d.img", src, at, size, at),
		fmt.Sprintf("e2fsck -y -b 8193 -B 1024 ext4-%d.img", at),
		"DESTROYED",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	part := filepath.Join(dir, "part.img")
	o := &dumpOptions{globalOptions: &globalOptions{quiet: true}, output: part, byteRange: byteRange{at, size}}
	if err := runDump(context.Background(), o, src, new(bytes.Buffer), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(part)
	if !bytes.Equal(got, disk[at:at+size]) {
		t.Fatalf("dump --offset --length wrote %d bytes that differ from the file system's", len(got))
	}
	o.output, o.byteRange = filepath.Join(dir, "past.img"), byteRange{at, 64 << 20}
	if err := runDump(context.Background(), o, src, new(bytes.Buffer), new(bytes.Buffer)); exitCode(err) != exitUsage {
		t.Errorf("a range past the disk: exit %d (%v), want %d", exitCode(err), err, exitUsage)
	}
}

// encryptedGuest returns a guest disk holding a 16 MiB ext4 (1 KiB blocks,
// two block groups) at 1 MiB, whose first megabyte and first 4 KiB of the
// file system (boot block and primary superblock) are overwritten, as
// ransomware leaves a -flat.vmdk.
func encryptedGuest(t *testing.T) (disk []byte, at, size int64) {
	t.Helper()
	mkfs := testenv.Tool(t, "mkfs.ext4")
	at, size = 1<<20, 16<<20
	fsImg := filepath.Join(t.TempDir(), "fs.img")
	os.WriteFile(fsImg, nil, 0o644)
	os.Truncate(fsImg, size)
	if out, err := exec.Command(mkfs, "-q", "-F", "-b", "1024", fsImg).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	fsData, err := os.ReadFile(fsImg)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0x5A, 0xC3, 0x96, 0x0F}, (int(at)+4096)/4)
	disk = append(append(append([]byte{}, junk[:at]...), fsData...), make([]byte, 1<<20)...)
	copy(disk[at:], junk[:4096])
	return disk, at, size
}

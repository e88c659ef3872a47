package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// genVolume writes a small generated volume with a deleted file.
func genVolume(t *testing.T, version int) *vmfstest.Result {
	t.Helper()
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "ds.img"), vmfstest.Spec{
		Version: version, Label: "cmdtest", Partition: "gpt",
		Files: []vmfstest.Entry{
			{Path: "vm1/vm1.vmx", Data: []byte("displayName = \"vm1\"\n")},
			{Path: "vm1/disk-flat.vmdk", Size: 3 << 20, Seed: 1, Thin: true, Holes: []vmfstest.Range{{Off: 1 << 20, Len: 1 << 20}}},
			{Path: "vm1/link", Kind: vmfstest.Symlink, Target: "vm1.vmx"},
			{Path: "old.log", Size: 10000, Seed: 2, Deleted: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestLsHashMatchesExpected(t *testing.T) {
	for _, v := range []int{5, 6} {
		res := genVolume(t, v)
		var out bytes.Buffer
		o := &lsOptions{globalOptions: &globalOptions{quiet: true}, recursive: true, hash: "sha256"}
		if err := runLs(context.Background(), o, []string{res.Image}, &out); err != nil {
			t.Fatal(err)
		}
		want, _ := res.Expected()
		if out.String() != want {
			t.Errorf("VMFS%d: ls -r --hash sha256 =\n%s\nwant\n%s", v, out.String(), want)
		}
	}
}

func TestLsJSONAndSubdir(t *testing.T) {
	res := genVolume(t, 6)
	var out bytes.Buffer
	o := &lsOptions{globalOptions: &globalOptions{quiet: true, json: true}, hash: "sha256"}
	if err := runLs(context.Background(), o, []string{res.Image, "/vm1"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), out.String())
	}
	var e struct {
		Path, Type, Target, SHA256 string
		Size                       int64
		VMFS                       struct{ Provisioned string }
	}
	for _, l := range lines {
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		switch e.Path {
		case "/vm1/link":
			if e.Type != "symlink" || e.Target != "vm1.vmx" {
				t.Errorf("link: %+v", e)
			}
		case "/vm1/disk-flat.vmdk":
			if e.Type != "file" || e.Size != 3<<20 || e.VMFS.Provisioned != "thin" || len(e.SHA256) != 64 {
				t.Errorf("disk: %+v", e)
			}
		}
	}
}

func TestCatAndStat(t *testing.T) {
	res := genVolume(t, 5)
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, []string{res.Image, "/vm1/link"}, &out); err != nil || out.String() != "displayName = \"vm1\"\n" {
		t.Fatalf("cat link = %q, %v", out.String(), err)
	}
	out.Reset()
	if err := runStat(context.Background(), g, statFlags{}, []string{res.Image, "vm1/disk-flat.vmdk"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"provisioning:  thin", "allocated:     2097152 bytes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stat output lacks %q:\n%s", want, out.String())
		}
	}
	err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, []string{res.Image, "/nope"}, &out)
	if err == nil || exitCode(err) != exitFailure {
		t.Fatalf("cat of a missing file: %v (exit %d)", err, exitCode(err))
	}
	if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, []string{"/does/not/exist.img", "/x"}, &out); exitCode(err) != exitUsage {
		t.Fatalf("missing source: %v (exit %d)", err, exitCode(err))
	}
}

func TestScanReportsVolumes(t *testing.T) {
	a, b := genVolume(t, 5), genVolume(t, 6)
	var out bytes.Buffer
	g := &globalOptions{quiet: true, json: true}
	if err := runScan(context.Background(), g, &volumeFlags{}, false, []string{a.Image, b.Image}, &out); err != nil {
		t.Fatal(err)
	}
	var reports []scanReport
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r scanReport
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
	}
	if len(reports) != 2 || reports[0].Version != 5 || reports[1].Version != 6 || reports[0].Files != 3+len(a.Entries)-5 && reports[0].Files == 0 {
		t.Fatalf("reports: %+v", reports)
	}
	// Two volumes: a path command must be told which.
	err := runCat(context.Background(), &globalOptions{quiet: true}, &volumeFlags{}, byteRange{}, []string{a.Image, b.Image, "--", "/vm1/vm1.vmx"}, &out)
	if err == nil || !strings.Contains(err.Error(), "--volume") {
		t.Fatalf("ambiguous volume: %v", err)
	}
}

func TestDeepScanListsDeleted(t *testing.T) {
	res := genVolume(t, 5)
	dir := t.TempDir()
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runScan(context.Background(), g, &volumeFlags{deep: true, scanDir: dir}, false, []string{res.Image}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 deleted") {
		t.Fatalf("scan --deep:\n%s", out.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, ".vmfsrecover", "scan-*.json"))
	if len(files) != 1 {
		t.Fatalf("scan files: %v", files)
	}
	stamp, _ := os.Stat(files[0])
	out.Reset()
	o := &lsOptions{globalOptions: g, vol: volumeFlags{scanDir: dir}, recursive: true, long: true, deleted: true}
	if err := runLs(context.Background(), o, []string{res.Image}, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); !strings.HasPrefix(got, "deleted") || !strings.HasSuffix(got, "/old.log") || strings.Count(got, "\n") != 0 {
		t.Fatalf("ls --deleted:\n%s", got)
	}
	if again, _ := os.Stat(files[0]); !again.ModTime().Equal(stamp.ModTime()) {
		t.Error("ls --deep scanned again instead of reusing the complete scan file")
	}
}

func TestExportDeepRecordsProvenance(t *testing.T) {
	res := genVolume(t, 5)
	dest := filepath.Join(t.TempDir(), "rescue")
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1, retries: 1, vol: volumeFlags{deep: true, scanDir: t.TempDir()}}, []string{res.Image}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	manifest, err := os.ReadFile(filepath.Join(dest, export.ManifestName))
	if err != nil {
		matches, _ := filepath.Glob(filepath.Join(dest, "*.jsonl"))
		t.Fatalf("manifest: %v (found %v)", err, matches)
	}
	var deleted bool
	for _, l := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		var e struct{ Source, Provenance, SHA256 string }
		json.Unmarshal([]byte(l), &e)
		if strings.HasSuffix(e.Source, "old.log") && e.Provenance == "deleted" {
			want, _ := res.Deleted[0].SHA256()
			deleted = e.SHA256 == want
		}
	}
	if !deleted {
		t.Fatalf("deleted old.log not exported with its provenance and content:\n%s", manifest)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"ls"}, {"frob"}, {"-q", "-v", "version"}, {"ls", "--no-such-flag", "x"}} {
		cmd := newRootCmd()
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); exitCode(err) != exitUsage {
			t.Errorf("%v: exit %d (%v), want %d", args, exitCode(err), err, exitUsage)
		}
	}
}

// stat --search finds the ext4 inside a -flat.vmdk on the datastore whose
// head is destroyed, and the cat --offset --length command it prints
// copies exactly that file system out.
func TestStatSearchAndCatRange(t *testing.T) {
	guest, at, size := encryptedGuest(t)
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "ds.img"), vmfstest.Spec{Version: 6, Files: []vmfstest.Entry{
		{Path: "vm1/vm1-flat.vmdk", Data: guest},
	}})
	if err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runStat(context.Background(), g, statFlags{search: true}, []string{res.Image, "/vm1/vm1-flat.vmdk"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := fmt.Sprintf("vmfsrecover cat --offset %d --length %d %s /vm1/vm1-flat.vmdk > ext4-%d.img", at, size, res.Image, at)
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "e2fsck -y -b 8193 -B 1024") {
		t.Fatalf("output lacks %q and the e2fsck line:\n%s", want, out.String())
	}
	out.Reset()
	if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{at, size}, []string{res.Image, "/vm1/vm1-flat.vmdk"}, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), guest[at:at+size]) {
		t.Fatalf("cat --offset --length wrote %d bytes that differ from the file system's", out.Len())
	}
	if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{at, int64(len(guest))}, []string{res.Image, "/vm1/vm1-flat.vmdk"}, io.Discard); exitCode(err) != exitUsage {
		t.Errorf("a range past the file: exit %d (%v), want %d", exitCode(err), err, exitUsage)
	}
}

// TestRansomwareDamageReported overwrites the head of a -flat.vmdk on the
// datastore with random bytes, as ESXi ransomware does, and checks that
// stat --damage names that range and nothing else.
func TestRansomwareDamageReported(t *testing.T) {
	guest := bytes.Repeat([]byte("ordinary guest data, far from random: 0123456789abcdef\n"), (4<<20)/55+1)[:4<<20]
	guest[510], guest[511] = 0x55, 0xAA
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "ds.img"), vmfstest.Spec{Version: 6, Files: []vmfstest.Entry{
		{Path: "vm1/vm1-flat.vmdk", Data: guest},
	}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.OpenFile(res.Image, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	vol, err := vmfs.Open([]vmfs.Device{io.NewSectionReader(img, res.PartitionOffset, 1<<40)}, vmfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := vol.Open("vm1/vm1-flat.vmdk")
	loc, _, err := f.(*vmfs.File).Locate(0)
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	img.WriteAt(noise, res.PartitionOffset+0x1100000+loc)
	img.Close()

	var out bytes.Buffer
	err = runStat(context.Background(), &globalOptions{quiet: true, json: true}, statFlags{damage: true}, []string{res.Image, "/vm1/vm1-flat.vmdk"}, &out)
	if exitCode(err) != exitPartial {
		t.Fatalf("stat --damage: %v (exit %d)", err, exitCode(err))
	}
	var r statReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if d := r.Damage; d == nil || !d.HeadDamaged || len(d.Suspect) != 1 || d.Suspect[0].Off != 0 || d.Suspect[0].Len != 1<<20 {
		t.Fatalf("damage report: %+v", r.Damage)
	}
}

// export --tolerant of a spanned volume whose last disk is missing writes
// what there is, and says for each file which bytes lay on that disk: in
// the output, in the manifest, and with exit status 3.
func TestExportTolerantNamesLostBytes(t *testing.T) {
	res := spannedVolume(t)
	dest := filepath.Join(t.TempDir(), "rescue")
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	sources := append(res.Images[:len(res.Images)-1:len(res.Images)-1], "--", "/span")
	err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1, retries: 1, vol: volumeFlags{tolerant: true}}, sources, &out)
	if exitCode(err) != exitPartial {
		t.Fatalf("exit %d (%v), want %d\n%s", exitCode(err), err, exitPartial, out.String())
	}
	if !strings.Contains(out.String(), "lie in a missing extent of the volume") {
		t.Errorf("output names no lost bytes:\n%s", out.String())
	}
	manifest, err := os.ReadFile(filepath.Join(dest, export.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	warned := 0
	for _, l := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		var e export.Entry
		json.Unmarshal([]byte(l), &e)
		if len(e.Warnings) > 0 {
			warned++
			if !strings.HasPrefix(e.Source, "span/") {
				t.Errorf("%s: warnings %q, but it lies on the first disk", e.Source, e.Warnings)
			}
		}
	}
	if warned == 0 {
		t.Errorf("no manifest entry has warnings:\n%s", manifest)
	}
}

// stat --tolerant names the bytes of a file that lay on a missing disk,
// and exits 3.
func TestStatTolerantNamesLostBytes(t *testing.T) {
	res := spannedVolume(t)
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	err := runStat(context.Background(), g, statFlags{vol: volumeFlags{tolerant: true}}, []string{res.Images[0], "/span/across-extents.bin"}, &out)
	if exitCode(err) != exitPartial || !strings.Contains(out.String(), "warning:") || !strings.Contains(out.String(), "lie in a missing extent") {
		t.Errorf("exit %d (%v), output:\n%s", exitCode(err), err, out.String())
	}
}

// spannedVolume writes the generator's VMFS6 volume spanned over two disks,
// with a file across them.
func spannedVolume(t *testing.T) *vmfstest.Result {
	t.Helper()
	for _, fx := range vmfstest.Fixtures(false) {
		if fx.Spec.Version == 6 && fx.Spec.Extents > 1 {
			res, err := vmfstest.Write(filepath.Join(t.TempDir(), "span.img"), fx.Spec)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
	}
	t.Fatal("no spanned VMFS6 fixture")
	return nil
}

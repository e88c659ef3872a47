package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid/raidtest"
)

// TestRaidMembers reads a datastore from the members of a RAID 5 array
// with one member gone, given in shuffled order: ls and cat with --raid
// auto detect the array, and with the detected spec given back they skip
// the search; export copies a file exactly.
func TestRaidMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: stripes a datastore and searches its geometry; make test runs it in its second, race-free pass")
	}
	res := genVolume(t, 6)
	img, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	st, _ := img.Stat()
	paths, err := raidtest.Stripe(img, st.Size(), raidtest.Geometry{Level: "raid5", Layout: "left-symmetric", Chunk: 64 << 10, Members: 4}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sources := []string{paths[3], paths[0], paths[2]} // member 1 is gone
	want, _ := res.Expected()

	var out bytes.Buffer
	o := &lsOptions{globalOptions: &globalOptions{quiet: true}, recursive: true, hash: "sha256"}
	o.vol.raid = "auto"
	if err := runLs(context.Background(), o, append(append([]string(nil), sources...), "--"), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("ls --raid auto =\n%s\nwant\n%s", out.String(), want)
	}

	spec := "raid5:left-symmetric:64k:offset=0:" + strings.Join([]string{paths[0], "missing", paths[2], paths[3]}, ",")
	g := &globalOptions{quiet: true}
	vf := &volumeFlags{raid: spec}
	out.Reset()
	if err := runCat(context.Background(), g, vf, byteRange{}, append(append([]string(nil), sources...), "--", "/vm1/disk-flat.vmdk"), &out); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	e := res.Lookup("/vm1/disk-flat.vmdk")
	if wantSum, _ := e.SHA256(); hex.EncodeToString(sum[:]) != wantSum {
		t.Errorf("cat --raid %s: sha256 %x, want %s", spec, sum, wantSum)
	}

	file := filepath.Join(t.TempDir(), "spec")
	os.WriteFile(file, []byte("# edited by hand\nraid5:ls:64k:offset=0\n"+paths[0]+"\nmissing\n"+paths[2]+"\n"+paths[3]+"\n"), 0o600)
	vf.raid = "@" + file
	dest := filepath.Join(t.TempDir(), "out")
	out.Reset()
	if err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1, retries: 1, vol: *vf}, append(append([]string(nil), sources...), "--", "/vm1"), &out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dest, "vm1", "vm1.vmx"))
	if err != nil || string(got) != "displayName = \"vm1\"\n" {
		t.Errorf("exported vm1.vmx: %q %v", got, err)
	}

	vf.raid = "raid5:ls:64k:offset=0:" + paths[0] + ",missing," + paths[2]
	if err := runCat(context.Background(), g, vf, byteRange{}, append(append([]string(nil), sources...), "--", "/vm1/vm1.vmx"), &out); err == nil {
		t.Error("a SOURCE missing from the spec's members was accepted")
	}
}

// TestScanCheckParity checks the parity of a RAID 5 datastore: none
// disagrees on the members as written; after one chunk of member 2 is
// overwritten, scan --check-parity names the rows, their array bytes and
// the members holding their P, and exits 3.
func TestScanCheckParity(t *testing.T) {
	res := genVolume(t, 6)
	img, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	st, _ := img.Stat()
	const chunk = 64 << 10
	paths, err := raidtest.Stripe(img, st.Size(), raidtest.Geometry{Level: "raid5", Layout: "left-symmetric", Chunk: chunk, Members: 3}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := "raid5:left-symmetric:64k:offset=0:" + strings.Join(paths, ",")
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runScan(context.Background(), g, &volumeFlags{raid: spec}, true, paths, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "0 row(s) disagree") {
		t.Errorf("healthy array:\n%s", out.String())
	}

	// Rows 4 and 5 (member chunks 4 and 5 of member 2) get other bytes.
	f, err := os.OpenFile(paths[2], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0x5a}, 2*chunk), 4*chunk); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out.Reset()
	err = runScan(context.Background(), g, &volumeFlags{raid: spec}, true, paths, &out)
	if exitCode(err) != exitPartial {
		t.Fatalf("exit %d (%v), want %d\n%s", exitCode(err), err, exitPartial, out.String())
	}
	for _, want := range []string{"2 row(s) disagree", "array bytes 0x80000-0xc0000 (rows 4-5): P (member "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := runScan(context.Background(), g, &volumeFlags{}, true, paths, &out); exitCode(err) != exitUsage {
		t.Errorf("--check-parity without --raid: %v", err)
	}
}

// TestRaidSave writes the spec detection assumed to a file that --raid
// @FILE reads back, and refuses to write it over a member.
func TestRaidSave(t *testing.T) {
	if testing.Short() {
		t.Skip("searches a RAID geometry; make test runs it in its second, race-free pass")
	}
	res := genVolume(t, 6)
	img, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	st, _ := img.Stat()
	paths, err := raidtest.Stripe(img, st.Size(), raidtest.Geometry{Level: "raid5", Layout: "right-symmetric", Chunk: 16 << 10, Members: 3}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sources := []string{paths[1], paths[2], paths[0]}
	saved := filepath.Join(t.TempDir(), "array.spec")
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runCat(context.Background(), g, &volumeFlags{raid: "auto", raidSave: saved}, byteRange{}, append(append([]string(nil), sources...), "--", "/vm1/vm1.vmx"), &out); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := raid.ParseFile(string(text))
	if err != nil || spec.String() != "raid5:right-symmetric:16k:offset=0:"+strings.Join(paths, ",") {
		t.Fatalf("saved spec %q (%v):\n%s", spec, err, text)
	}
	if !strings.Contains(string(text), "# RAID spec written by vmfsrecover") {
		t.Errorf("saved spec has no comment saying what it is:\n%s", text)
	}
	want := out.String()
	out.Reset()
	if err := runCat(context.Background(), g, &volumeFlags{raid: "@" + saved}, byteRange{}, append(append([]string(nil), sources...), "--", "/vm1/vm1.vmx"), &out); err != nil || out.String() != want {
		t.Fatalf("cat --raid @%s: %q, %v; want %q", saved, out.String(), err, want)
	}
	before, _ := os.ReadFile(paths[0])
	err = runCat(context.Background(), g, &volumeFlags{raid: "@" + saved, raidSave: paths[0]}, byteRange{}, append(append([]string(nil), sources...), "--", "/vm1/vm1.vmx"), io.Discard)
	if !errors.Is(err, writeguard.ErrSource) {
		t.Errorf("--raid-save over a member: %v, want the write guard's refusal", err)
	}
	if after, _ := os.ReadFile(paths[0]); !bytes.Equal(before, after) {
		t.Fatal("--raid-save changed a member")
	}
}

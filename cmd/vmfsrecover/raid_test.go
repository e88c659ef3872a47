package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

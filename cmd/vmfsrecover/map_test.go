package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/wizard"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/mapfile"
)

// mappedVolume writes a generated volume and a mapfile that marks two
// sectors of /vm1/disk-flat.vmdk bad (bytes 4608-5632 of the file), found
// by the file's content in the image. It returns the image, the mapfile
// and the file's content.
func mappedVolume(t *testing.T) (img, mapPath string, content []byte) {
	t.Helper()
	res := genVolume(t, 6)
	var cat bytes.Buffer
	if err := runCat(context.Background(), &globalOptions{quiet: true}, &volumeFlags{}, byteRange{}, []string{res.Image, "/vm1/disk-flat.vmdk"}, &cat); err != nil {
		t.Fatal(err)
	}
	content = cat.Bytes()
	image, err := os.ReadFile(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(image, content[:64<<10])
	if at < 0 {
		t.Fatal("the file's first 64 KiB are not contiguous in the image")
	}
	m := mapfile.New(int64(len(image)))
	m.Set(0, int64(len(image)), mapfile.Finished)
	m.Set(int64(at)+4608, 1024, mapfile.BadSector)
	var buf bytes.Buffer
	if err := m.Write(&buf, mapfile.Header{Program: "test"}); err != nil {
		t.Fatal(err)
	}
	mapPath = filepath.Join(t.TempDir(), "disk.map")
	if err := os.WriteFile(mapPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return res.Image, mapPath, content
}

// TestMapMakesFilesNameTheirLostBytes: with --map, a file whose sectors the
// mapfile marks bad is exported with those bytes as zeros (not the bytes
// the image holds there), names them in the output and the manifest, and
// the export exits 3; with the deep scan too.
func TestMapMakesFilesNameTheirLostBytes(t *testing.T) {
	img, mapPath, content := mappedVolume(t)
	for _, deep := range []bool{false, true} {
		dest := filepath.Join(t.TempDir(), "rescue")
		g := &globalOptions{quiet: true}
		var out bytes.Buffer
		err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1, retries: 1, vol: volumeFlags{maps: []string{mapPath}, deep: deep, scanDir: t.TempDir()}}, []string{img, "/vm1"}, &out)
		if exitCode(err) != exitPartial {
			t.Fatalf("deep=%v: exit %d (%v), want %d\n%s", deep, exitCode(err), err, exitPartial, out.String())
		}
		if !strings.Contains(out.String(), "bytes 4608-5632 lay in unreadable sectors") {
			t.Errorf("deep=%v: output names no lost bytes:\n%s", deep, out.String())
		}
		got, err := os.ReadFile(filepath.Join(dest, "vm1", "disk-flat.vmdk"))
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(content)
		clear(want[4608:5632])
		if !bytes.Equal(got, want) {
			t.Errorf("deep=%v: the exported file is not the file with its lost bytes zeroed", deep)
		}
		manifest, _ := os.ReadFile(filepath.Join(dest, export.ManifestName))
		found := false
		for _, l := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
			var e export.Entry
			json.Unmarshal([]byte(l), &e)
			if strings.HasSuffix(e.Source, "disk-flat.vmdk") && strings.Contains(strings.Join(e.Warnings, ";"), "4608-5632") {
				found = true
			} else if len(e.Warnings) > 0 {
				t.Errorf("deep=%v: %s has warnings %q, but lies outside the bad sectors", deep, e.Source, e.Warnings)
			}
		}
		if !found {
			t.Errorf("deep=%v: the manifest does not record the lost bytes:\n%s", deep, manifest)
		}
	}
}

func TestMapsBySource(t *testing.T) {
	if m, err := mapsBySource([]string{"a.img"}, []string{"a.map"}); err != nil || m["a.img"] != "a.map" {
		t.Errorf("one source: %v %v", m, err)
	}
	if m, err := mapsBySource([]string{"a.img", "b.img"}, []string{"b.img=b.map"}); err != nil || m["b.img"] != "b.map" || len(m) != 1 {
		t.Errorf("SOURCE=MAPFILE: %v %v", m, err)
	}
	if _, err := mapsBySource([]string{"a.img", "b.img"}, []string{"x.map"}); exitCode(err) != exitUsage {
		t.Errorf("an unassigned map with two sources: %v", err)
	}
	if _, err := mapsBySource([]string{"a.img"}, []string{"a.map", "b.map"}); exitCode(err) != exitUsage {
		t.Errorf("two maps for one source: %v", err)
	}
}

// TestMapNamesLostMetadata: with --map marking sectors of the volume's
// file-descriptor area (.fdc.sf) bad, the deep scan says that the
// descriptors that lay there are lost, not only which files lost bytes.
func TestMapNamesLostMetadata(t *testing.T) {
	res := genVolume(t, 6)
	f, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	found, _, err := vmfs.Find(f, st.Size(), vmfs.FindOptions{})
	if err != nil || len(found) != 1 {
		t.Fatalf("Find: %v, %d volumes", err, len(found))
	}
	c := found[0]
	dev := disk.NewSection(f, c.Offset, c.Size)
	span, err := vmfs.Assemble([]vmfs.Device{dev})
	if err != nil {
		t.Fatal(err)
	}
	vol, err := vmfs.Open([]vmfs.Device{dev}, vmfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fdc, err := vol.Open(".fdc.sf")
	if err != nil {
		t.Fatal(err)
	}
	volOff, _, err := fdc.(*vmfs.File).Locate(64 << 10)
	if err != nil {
		t.Fatal(err)
	}
	_, devOff, ok := span.Locate(volOff)
	if !ok {
		t.Fatal("the descriptor area is on no device")
	}
	m := mapfile.New(st.Size())
	m.Set(0, st.Size(), mapfile.Finished)
	m.Set(c.Offset+devOff, 4096, mapfile.BadSector)
	var buf bytes.Buffer
	m.Write(&buf, mapfile.Header{Program: "test"})
	mapPath := filepath.Join(t.TempDir(), "map")
	os.WriteFile(mapPath, buf.Bytes(), 0o644)

	var out bytes.Buffer
	vf := &volumeFlags{deep: true, scanDir: t.TempDir(), maps: []string{mapPath}}
	if err := runScan(context.Background(), &globalOptions{quiet: true}, vf, false, []string{res.Image}, &out); err != nil && exitCode(err) != exitPartial {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "/.fdc.sf, file descriptors: files whose descriptors lay there are missing or orphaned: bytes 65536-69632 lay in unreadable sectors") {
		t.Errorf("the deep scan does not say the descriptor area was lost:\n%s", out.String())
	}
}

// TestWizardMap: the wizard takes --map too, keeps it in its state for
// --resume, and the file whose sectors the map marks bad names its lost
// bytes in the export's manifest.
func TestWizardMap(t *testing.T) {
	img, mapPath, _ := mappedVolume(t)
	dir := t.TempDir()
	answers := filepath.Join(dir, "answers.json")
	body := `{"filter": "all", "select": ["/vm1"], "destination": {"local": "` + filepath.Join(dir, "out") + `"}}`
	if err := os.WriteFile(answers, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &wizardOptions{answers: answers, state: filepath.Join(dir, "state.json"), workers: 1, maps: []string{mapPath}}
	var out, errOut bytes.Buffer
	err := runWizard(context.Background(), &globalOptions{json: true, quiet: true}, o, []string{img}, strings.NewReader(""), &out, &errOut)
	if err != nil && exitCode(err) != exitPartial {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	st, lerr := wizard.LoadState(o.state)
	if lerr != nil || len(st.Maps) != 1 {
		t.Fatalf("the state keeps no mapfile: %v %+v", lerr, st)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, "out", export.ManifestName))
	if !strings.Contains(string(manifest), "bytes 4608-5632 lay in unreadable sectors") {
		t.Errorf("the wizard's manifest does not name the lost bytes:\n%s", manifest)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func exportVolume(t *testing.T) (string, []byte) {
	t.Helper()
	flat := make([]byte, 3<<20)
	copy(flat, bytes.Repeat([]byte("guest data "), 1000))
	img := filepath.Join(t.TempDir(), "ds.img")
	_, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "ds1", Files: []vmfstest.Entry{
		{Path: "vm1/vm1.vmx", Data: []byte(previewVMX)},
		{Path: "vm1/vm1.vmdk", Data: []byte(previewVMDK)},
		{Path: "vm1/vm1-flat.vmdk", Data: flat, Holes: []vmfstest.Range{{Off: 1 << 20, Len: 2 << 20}}, Thin: true},
		{Path: "notes/readme.txt", Data: []byte("hello\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return img, flat
}

func TestExportVerifyCmd(t *testing.T) {
	img, flat := exportVolume(t)
	dest := filepath.Join(t.TempDir(), "rescue")
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 2, retries: 1}, []string{img}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "4 exported, 0 already complete, 0 failed") {
		t.Errorf("output:\n%s", out.String())
	}
	got, err := os.ReadFile(filepath.Join(dest, "vm1/vm1-flat.vmdk"))
	if err != nil || !bytes.Equal(got, flat) {
		t.Fatalf("exported flat extent differs: %v", err)
	}

	// Again, with --json: everything is complete.
	out.Reset()
	g.json = true
	if err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1}, []string{img, "/vm1"}, &out); err != nil {
		t.Fatal(err)
	}
	var rep struct{ Complete, Exported int }
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Complete != 3 || rep.Exported != 0 {
		t.Fatalf("rerun: %v %s", err, out.String())
	}

	manifest := filepath.Join(dest, export.ManifestName)
	g.json = false
	out.Reset()
	if err := runVerify(context.Background(), g, &exportFlags{}, manifest, &out); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "4 files checked") {
		t.Errorf("verify output:\n%s", out.String())
	}
	if err := os.WriteFile(filepath.Join(dest, "notes/readme.txt"), []byte("hellO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = runVerify(context.Background(), g, &exportFlags{}, manifest, &out)
	if exitCode(err) != exitVerify || !errors.Is(err, export.ErrMismatch) {
		t.Fatalf("verify after corruption: exit %d, %v", exitCode(err), err)
	}
	if !strings.Contains(out.String(), "MISMATCH\tnotes/readme.txt") {
		t.Errorf("verify output:\n%s", out.String())
	}
}

func TestExportCmdFlattenAndErrors(t *testing.T) {
	img, _ := exportVolume(t)
	dest := t.TempDir()
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1, flatten: true}, []string{img, "vm1"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	fi, err := os.Stat(filepath.Join(dest, "vm1/vm1.raw"))
	if err != nil || fi.Size() != 2<<20 {
		t.Fatalf("flattened image: %v %v", fi, err)
	}
	// Existing files are not replaced: exit status 3.
	err = runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1}, []string{img, "vm1/vm1.vmx", "notes"}, &out)
	if err != nil {
		t.Fatalf("export next to flattened files: %v", err)
	}
	os.WriteFile(filepath.Join(dest, "notes/readme.txt"), []byte("other"), 0o644)
	os.Remove(filepath.Join(dest, export.ManifestName))
	err = runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1}, []string{img, "notes"}, &out)
	if exitCode(err) != exitPartial {
		t.Fatalf("exit %d (%v), want %d", exitCode(err), err, exitPartial)
	}
	for _, tc := range []struct {
		f    exportFlags
		code int
	}{
		{exportFlags{jobs: 1}, exitUsage},
		{exportFlags{to: dest, jobs: 0}, exitUsage},
		{exportFlags{to: "ftp://u:pw@127.0.0.1/", jobs: 1}, exitUsage},
		{exportFlags{to: "ftp://127.0.0.1/", jobs: 1, implicitTLS: true}, exitUsage},
		{exportFlags{to: dest, jobs: 1, unmapped: true}, exitUsage}, // needs --flatten
	} {
		err := runExport(context.Background(), g, &tc.f, []string{img}, &out)
		if exitCode(err) != tc.code || (err != nil && strings.Contains(err.Error(), "pw@")) {
			t.Errorf("%+v: exit %d (%v), want %d", tc.f, exitCode(err), err, tc.code)
		}
	}
}

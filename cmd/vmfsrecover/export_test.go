package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		{exportFlags{to: dest, jobs: -1}, exitUsage},
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

// TestExportCmdRerunRepairs: a rerun says that it did not re-read the
// copies it found complete, and with --verify it copies again one that was
// damaged since (it used to count it complete, exit 0, while verify said
// MISMATCH).
func TestExportCmdRerunRepairs(t *testing.T) {
	img, _ := exportVolume(t)
	dest := filepath.Join(t.TempDir(), "rescue")
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	if err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1}, []string{img}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	readme := filepath.Join(dest, "notes/readme.txt")
	if err := os.WriteFile(readme, []byte("hellO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1}, []string{img}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "4 already complete") || !strings.Contains(out.String(), "4 already complete file(s) were not re-read") || !strings.Contains(out.String(), "--verify") {
		t.Errorf("rerun without --verify:\n%s", out.String())
	}
	out.Reset()
	if err := runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1, readBack: true}, []string{img}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "repaired\tnotes/readme.txt") || !strings.Contains(out.String(), "1 exported (1 repaired), 3 already complete") || strings.Contains(out.String(), "not re-read") {
		t.Errorf("rerun with --verify:\n%s", out.String())
	}
	if got, _ := os.ReadFile(readme); string(got) != "hello\n" {
		t.Errorf("readme.txt holds %q after the repair", got)
	}
	out.Reset()
	if err := runVerify(context.Background(), g, &exportFlags{}, filepath.Join(dest, export.ManifestName), &out); err != nil {
		t.Fatalf("verify after the repair: %v\n%s", err, out.String())
	}
}

// TestExportCmdNoManifest: when the destination cannot be reached, the
// summary names no manifest (it used to name one that was never written).
func TestExportCmdNoManifest(t *testing.T) {
	img, _ := exportVolume(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	g := &globalOptions{quiet: true}
	var out bytes.Buffer
	err = runExport(context.Background(), g, &exportFlags{to: "ftp://" + addr + "/rescue", jobs: 1, timeout: 5 * time.Second}, []string{img}, &out)
	if err == nil || !strings.Contains(err.Error(), "connecting to") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(out.String(), "manifest "+export.ManifestName) {
		t.Errorf("summary names a manifest that was not written:\n%s", out.String())
	}
}

// TestPlainLogger: export's warnings are sentences, not slog's key=value
// lines, unless --json asks for JSON.
func TestPlainLogger(t *testing.T) {
	var b strings.Builder
	plainLogger(&globalOptions{}, &b).Warn("retrying a.txt (attempt 1): reset", "dest", "a.txt")
	plainLogger(&globalOptions{}, &b).Debug("not shown")
	if b.String() != "warning: retrying a.txt (attempt 1): reset\n" {
		t.Errorf("plain: %q", b.String())
	}
	b.Reset()
	plainLogger(&globalOptions{json: true}, &b).Warn("retrying", "dest", "a.txt")
	var rec map[string]any
	if err := json.Unmarshal([]byte(b.String()), &rec); err != nil || rec["dest"] != "a.txt" {
		t.Errorf("--json: %q, %v", b.String(), err)
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// truncatedVMFS6 writes the first 3 MiB of a bare VMFS6 partition: its
// LVM6 header, and nothing of the volume, which starts at 17 MiB.
func truncatedVMFS6(t *testing.T) string {
	t.Helper()
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "whole.img"), vmfstest.Spec{Version: 6, Label: "cut"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	head := filepath.Join(t.TempDir(), "head.img")
	out, err := os.Create(head)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.CopyN(out, in, 3<<20); err != nil {
		t.Fatal(err)
	}
	return head
}

// TestDeepScanOfTruncatedVMFS6 is issue 12 item 8 (reported VMFS5, exit
// 0, no word of the missing bytes) and item 7 (ls and export --deep of it
// recovered nothing with exit 0).
func TestDeepScanOfTruncatedVMFS6(t *testing.T) {
	head := truncatedVMFS6(t)
	g, vf := &globalOptions{quiet: true}, volumeFlags{deep: true, scanDir: t.TempDir()}
	var out bytes.Buffer
	err := runScan(context.Background(), g, &vf, []string{head}, &out)
	if exitCode(err) != exitPartial || !strings.Contains(out.String(), "version:    VMFS6") || !strings.Contains(out.String(), "missing:") ||
		!strings.Contains(err.Error(), "truncated") {
		t.Fatalf("scan --deep: exit %d (%v)\n%s", exitCode(err), err, out.String())
	}
	out.Reset()
	err = runLs(context.Background(), &lsOptions{globalOptions: g, vol: vf, recursive: true}, []string{head}, &out)
	if exitCode(err) != exitPartial || !strings.Contains(err.Error(), "nothing recovered") || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("ls --deep: exit %d (%v)\n%s", exitCode(err), err, out.String())
	}
	dest := filepath.Join(t.TempDir(), "out")
	err = runExport(context.Background(), g, &exportFlags{to: dest, jobs: 1, retries: 1, vol: vf}, []string{head}, &out)
	if exitCode(err) != exitPartial || !strings.Contains(err.Error(), "nothing recovered") {
		t.Fatalf("export --deep: exit %d (%v)", exitCode(err), err)
	}
}

// TestDeepScanOfNothingExitsPartial: a source without VMFS metadata
// recovers nothing, and says so with exit 3.
func TestDeepScanOfNothingExitsPartial(t *testing.T) {
	img := filepath.Join(t.TempDir(), "zeros.img")
	if err := os.WriteFile(img, bytes.Repeat([]byte("not vmfs"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	g, vf := &globalOptions{quiet: true}, volumeFlags{deep: true, scanDir: t.TempDir()}
	var out bytes.Buffer
	for name, run := range map[string]func() error{
		"scan": func() error { return runScan(context.Background(), g, &vf, []string{img}, &out) },
		"ls": func() error {
			return runLs(context.Background(), &lsOptions{globalOptions: g, vol: vf}, []string{img}, &out)
		},
		"export": func() error {
			return runExport(context.Background(), g, &exportFlags{to: filepath.Join(t.TempDir(), "o"), jobs: 1, retries: 1, vol: vf}, []string{img}, &out)
		},
	} {
		if err := run(); exitCode(err) != exitPartial || !strings.Contains(err.Error(), "nothing recovered") {
			t.Errorf("%s --deep: exit %d (%v)", name, exitCode(err), err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
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
	err := runScan(context.Background(), g, &vf, false, []string{head}, &out)
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
		"scan": func() error { return runScan(context.Background(), g, &vf, false, []string{img}, &out) },
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

// TestPlainLsOfDamagedVolumeSuggestsDeep: a plain ls of a volume whose
// descriptor is gone names the flags that read it anyway, leaving out
// those already given.
func TestPlainLsOfDamagedVolumeSuggestsDeep(t *testing.T) {
	res := genVolume(t, 6)
	f, err := os.OpenFile(res.Image, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 512), res.PartitionOffset+0x1100000+0x200000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tolerant := range []bool{false, true} {
		o := &lsOptions{globalOptions: &globalOptions{quiet: true}, vol: volumeFlags{tolerant: tolerant}}
		err := runLs(context.Background(), o, []string{res.Image}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--deep") || strings.Contains(err.Error(), "--tolerant") == tolerant {
			t.Errorf("ls (tolerant %v): %v", tolerant, err)
		}
	}
}

// TestScanHintsOnlyFlagsNotGiven: "try --probe-all" only without it.
func TestScanHintsOnlyFlagsNotGiven(t *testing.T) {
	img := filepath.Join(t.TempDir(), "blank.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, probeAll := range []bool{false, true} {
		err := runScan(context.Background(), &globalOptions{quiet: true}, &volumeFlags{probeAll: probeAll}, false, []string{img}, io.Discard)
		if err == nil || strings.Contains(err.Error(), "--probe-all") == probeAll || !strings.Contains(err.Error(), "--deep") {
			t.Errorf("scan (probe-all %v): %v", probeAll, err)
		}
	}
}

// TestScanPrintsNoEmptyDeviceName: LVM3 headers record no device name;
// scan printed `device ""` for the VMFS3 sample.
func TestScanPrintsNoEmptyDeviceName(t *testing.T) {
	var out bytes.Buffer
	printScan(&out, scanReport{Sources: []string{"v3.img"}, Volume: discover.Volume{Set: vmfs.VolumeSet{Extents: []vmfs.Candidate{
		{How: "bare partition image", Header: &vmfs.LVMHeader{Major: 3, Minor: 16}},
	}}}})
	if strings.Contains(out.String(), "device") || !strings.Contains(out.String(), "LVM 3.16") {
		t.Fatalf("scan of an LVM3 extent:\n%s", out.String())
	}
}

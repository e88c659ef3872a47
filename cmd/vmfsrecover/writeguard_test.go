package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// checkRefused fails unless err is the guard's refusal to write target,
// exit status 1, naming target and source, suggesting no flag, and the
// source still holds want.
func checkRefused(t *testing.T, err error, target, source string, want []byte) {
	t.Helper()
	if !errors.Is(err, writeguard.ErrSource) || exitCode(err) != exitFailure {
		t.Errorf("writing %s: exit %d, %v; want the refusal with exit %d", target, exitCode(err), err, exitFailure)
	} else if msg := err.Error(); !strings.Contains(msg, target) || !strings.Contains(msg, source) || strings.Contains(msg, "--") {
		t.Errorf("refusal %q: want both %s and %s named and no flag suggested", msg, target, source)
	}
	if got, _ := os.ReadFile(source); !bytes.Equal(got, want) {
		t.Fatalf("writing %s changed the source %s: %d bytes now, %d before", target, source, len(got), len(want))
	}
}

// aliases returns paths that reach file: itself, a hard link, a symbolic
// link and the /proc/self/fd link of an open descriptor (the same file by
// a second path, as a bind mount gives).
func aliases(t *testing.T, file string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	hard, sym := filepath.Join(dir, "hardlink"), filepath.Join(dir, "symlink")
	if err := os.Link(file, hard); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, sym); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return map[string]string{"path": file, "hard link": hard, "symlink": sym, "fd alias": fmt.Sprintf("/proc/self/fd/%d", f.Fd())}
}

// The repro of issue 12 item 1: dump --force of a monolithicFlat disk onto
// its own extent truncated it. Every path to the extent, and to the
// descriptor, is refused with or without --force.
func TestDumpRefusesItsExtent(t *testing.T) {
	testenv.Tool(t, "qemu-img") // makes the monolithicFlat disk of the repro
	dir := t.TempDir()
	desc := filepath.Join(dir, "disk.vmdk")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", desc, "4M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	extent := filepath.Join(dir, "disk-flat.vmdk")
	data := vmdktest.Pattern(4<<20, 1)
	if err := os.WriteFile(extent, data, 0o644); err != nil {
		t.Fatal(err)
	}
	descText, _ := os.ReadFile(desc)
	for _, file := range []struct {
		path string
		want []byte
	}{{extent, data}, {desc, descText}} {
		for how, target := range aliases(t, file.path) {
			for _, force := range []bool{false, true} {
				o := &dumpOptions{globalOptions: &globalOptions{quiet: true}, output: target, force: force}
				err := runDump(context.Background(), o, desc, new(bytes.Buffer), new(bytes.Buffer))
				t.Logf("%s, --force=%v: %v", how, force, err)
				checkRefused(t, err, target, file.path, file.want)
			}
		}
	}
}

// The parent of a linked clone is read too: dumping the child onto the
// parent's extent is refused.
func TestDumpRefusesParentExtent(t *testing.T) {
	dir := t.TempDir()
	parent := filepath.Join(dir, "b-flat.vmdk")
	base := vmdktest.Pattern(64<<10, 2)
	os.WriteFile(parent, base, 0o644)
	os.WriteFile(filepath.Join(dir, "b.vmdk"), []byte(vmdktest.Descriptor("vmfs", "VMFS", "b-flat.vmdk", 128, 1, 0xFFFFFFFF, "")), 0o644)
	if err := vmdktest.WriteSESparse(filepath.Join(dir, "s-sesparse.vmdk"), make([]byte, 64<<10), func(int64) vmdktest.Kind { return vmdktest.Unmapped }); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "s.vmdk")
	os.WriteFile(child, []byte(vmdktest.Descriptor("seSparse", "SESPARSE", "s-sesparse.vmdk", 128, 2, 1, "b.vmdk")), 0o644)
	for how, target := range aliases(t, parent) {
		o := &dumpOptions{globalOptions: &globalOptions{quiet: true}, output: target, force: true}
		err := runDump(context.Background(), o, child, new(bytes.Buffer), new(bytes.Buffer))
		t.Logf("%s: %v", how, err)
		checkRefused(t, err, target, parent, base)
	}
	// An ordinary existing output is still replaced with --force.
	out := filepath.Join(dir, "out.raw")
	os.WriteFile(out, []byte("old"), 0o644)
	o := &dumpOptions{globalOptions: &globalOptions{quiet: true}, output: out, force: true}
	if err := runDump(context.Background(), o, child, new(bytes.Buffer), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi == nil || fi.Size() != 64<<10 {
		t.Errorf("dump --force over an old output: %v", fi)
	}
}

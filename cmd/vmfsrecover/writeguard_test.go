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
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// checkRefused fails unless err is the guard's refusal to write target,
// exit status 1, naming target and source, suggesting no flag, and the
// source's content still has the sha256 want.
func checkRefused(t *testing.T, err error, target, source string, want [32]byte) {
	t.Helper()
	if !errors.Is(err, writeguard.ErrSource) || exitCode(err) != exitFailure {
		t.Errorf("writing %s: exit %d, %v; want the refusal with exit %d", target, exitCode(err), err, exitFailure)
	} else if msg := err.Error(); !strings.Contains(msg, target) || !strings.Contains(msg, source) || strings.Contains(msg, "--") {
		t.Errorf("refusal %q: want both %s and %s named and no flag suggested", msg, target, source)
	}
	if testenv.FileSHA256(t, source) != want {
		t.Fatalf("writing %s changed the source %s", target, source)
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
	for _, file := range []string{extent, desc} {
		want := testenv.FileSHA256(t, file)
		for how, target := range aliases(t, file) {
			for _, force := range []bool{false, true} {
				o := &dumpOptions{globalOptions: &globalOptions{quiet: true}, output: target, force: force}
				err := runDump(context.Background(), o, desc, new(bytes.Buffer), new(bytes.Buffer))
				t.Logf("%s, --force=%v: %v", how, force, err)
				checkRefused(t, err, target, file, want)
			}
		}
	}
}

// The parent of a linked clone is read too: dumping the child onto the
// parent's extent is refused.
func TestDumpRefusesParentExtent(t *testing.T) {
	dir := t.TempDir()
	parent := filepath.Join(dir, "b-flat.vmdk")
	os.WriteFile(parent, vmdktest.Pattern(64<<10, 2), 0o644)
	base := testenv.FileSHA256(t, parent)
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

// guardVolume writes a VMFS image with /directory/file5 (8193 bytes) at
// path, and returns the sha256 of the image.
func guardVolume(t *testing.T, path string) [32]byte {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := vmfstest.Write(path, vmfstest.Spec{Version: 6, Label: "guard", Files: []vmfstest.Entry{
		{Path: "directory/file4", Data: []byte("content\n")},
		{Path: "directory/file5", Data: append(bytes.Repeat([]byte("a"), 8192), '\n')},
		{Path: "notes/readme.txt", Data: []byte("hello\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return testenv.FileSHA256(t, path)
}

// The repro of issue 12 item 2: the image saved as OUT/directory/file5,
// export IMG --to OUT --overwrite turned the image into the volume's
// 8193-byte file. Whatever path reaches the image there, the export stops
// before the image changes, exits 1 naming both, and keeps what an earlier
// run exported.
func TestExportRefusesItsSource(t *testing.T) {
	for _, how := range []string{"path", "hard link", "bind mount"} {
		t.Run(how, func(t *testing.T) {
			out := t.TempDir()
			target := filepath.Join(out, "directory", "file5")
			img := target
			switch how {
			case "hard link":
				img = filepath.Join(t.TempDir(), "ds.img")
			case "bind mount":
				img = filepath.Join(t.TempDir(), "file5")
			}
			want := guardVolume(t, img)
			switch how {
			case "hard link":
				os.MkdirAll(filepath.Dir(target), 0o755)
				if err := os.Link(img, target); err != nil {
					t.Fatal(err)
				}
			case "bind mount":
				os.MkdirAll(filepath.Dir(target), 0o755)
				if m, err := exec.Command("mount", "--bind", filepath.Dir(img), filepath.Dir(target)).CombinedOutput(); err != nil {
					testenv.Lacks(t, "bind mount not permitted here (needs root and mount rights): %v %s", err, m)
				}
				t.Cleanup(func() { exec.Command("umount", filepath.Dir(target)).Run() })
			}
			g := &globalOptions{quiet: true}
			// An earlier run exported notes/.
			var rep bytes.Buffer
			if err := runExport(context.Background(), g, &exportFlags{to: out, jobs: 1}, []string{img, "--", "/notes"}, &rep); err != nil {
				t.Fatalf("first export: %v\n%s", err, rep.String())
			}
			err := runExport(context.Background(), g, &exportFlags{to: out, jobs: 1, overwrite: true}, []string{img}, &rep)
			t.Logf("%v", err)
			checkRefused(t, err, target, img, want)
			if got, err := os.ReadFile(filepath.Join(out, "notes", "readme.txt")); err != nil || string(got) != "hello\n" {
				t.Errorf("the earlier export lost notes/readme.txt: %q %v", got, err)
			}
			manifest, _ := os.ReadFile(filepath.Join(out, export.ManifestName))
			if !bytes.Contains(manifest, []byte("readme.txt")) {
				t.Errorf("the manifest lost the earlier export:\n%s", manifest)
			}
		})
	}
}

// Every LUN of a spanned volume is a source: the second one, linked where
// the volume's /notes/readme.txt goes, stops the export before it changes.
func TestExportRefusesALUNOfASpan(t *testing.T) {
	lun1 := filepath.Join(t.TempDir(), "span.img")
	if _, err := vmfstest.Write(lun1, vmfstest.Spec{Version: 6, Label: "span", Extents: 2, Files: []vmfstest.Entry{
		{Path: "notes/readme.txt", Data: []byte("hello\n")},
	}}); err != nil {
		t.Fatal(err)
	}
	lun2 := filepath.Join(filepath.Dir(lun1), "span-ext1.img")
	want := testenv.FileSHA256(t, lun2)
	out := t.TempDir()
	target := filepath.Join(out, "notes", "readme.txt")
	os.MkdirAll(filepath.Dir(target), 0o755)
	if err := os.Link(lun2, target); err != nil {
		t.Fatal(err)
	}
	err := runExport(context.Background(), &globalOptions{quiet: true}, &exportFlags{to: out, jobs: 1, overwrite: true}, []string{lun1, lun2, "--", "/notes"}, new(bytes.Buffer))
	checkRefused(t, err, target, lun2, want)
}

// A mapfile given with --map is read too: a volume file exported onto it
// (here a hard link at the file's path) is refused.
func TestExportRefusesItsMapfile(t *testing.T) {
	img := filepath.Join(t.TempDir(), "ds.img")
	guardVolume(t, img)
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	mapPath := filepath.Join(t.TempDir(), "ds.map")
	if err := os.WriteFile(mapPath, fmt.Appendf(nil, "# Mapfile. Created by GNU ddrescue\n0x00000000     +\n0x00000000  0x%08X  +\n", fi.Size()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := testenv.FileSHA256(t, mapPath)
	out := t.TempDir()
	target := filepath.Join(out, "directory", "file5")
	os.MkdirAll(filepath.Dir(target), 0o755)
	if err := os.Link(mapPath, target); err != nil {
		t.Fatal(err)
	}
	f := &exportFlags{to: out, jobs: 1, overwrite: true}
	f.vol.maps = []string{mapPath}
	err = runExport(context.Background(), &globalOptions{quiet: true}, f, []string{img}, new(bytes.Buffer))
	checkRefused(t, err, target, mapPath, want)
}

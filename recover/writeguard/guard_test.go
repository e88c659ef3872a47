package writeguard

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// wantRefused fails unless err refuses target for source, naming both and
// no flag.
func wantRefused(t *testing.T, err error, target, source string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrSource) {
		t.Fatalf("writing %s: %v, want a refusal", target, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, target) || !strings.Contains(msg, source) {
		t.Errorf("refusal %q names not both %s and %s", msg, target, source)
	}
	if strings.Contains(msg, "--") {
		t.Errorf("refusal %q suggests a flag", msg)
	}
}

func TestAliasesOfASource(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "disk.img"), "data")
	other := writeFile(t, filepath.Join(dir, "other.img"), "data")
	g := New()
	if err := g.AddPath(src); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard")
	if err := os.Link(src, hard); err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(dir, "sym")
	os.Symlink("disk.img", sym)
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	for _, target := range []string{src, hard, sym, fd, filepath.Join(dir, ".", "x", "..", "disk.img")} {
		wantRefused(t, g.Check(target), target, src)
	}
	// CheckFile looks at the opened file, whatever its path.
	w, err := os.OpenFile(sym, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wantRefused(t, g.CheckFile("name shown", w), "name shown", src)
	for _, ok := range []string{other, filepath.Join(dir, "missing"), dir} {
		if err := g.Check(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	var none *Guard
	if none.Check(src) != nil || New().Check(src) != nil {
		t.Error("an empty guard refused a write")
	}
}

// A bind mount shows the same file under another path; only root may make
// one.
func TestBindMountAlias(t *testing.T) {
	dir := t.TempDir()
	srcDir, alias := filepath.Join(dir, "src"), filepath.Join(dir, "alias")
	os.Mkdir(srcDir, 0o755)
	os.Mkdir(alias, 0o755)
	src := writeFile(t, filepath.Join(srcDir, "disk.img"), "data")
	if out, err := exec.Command("mount", "--bind", srcDir, alias).CombinedOutput(); err != nil {
		testenv.Lacks(t, "bind mount not permitted here (needs root and mount rights): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", alias).Run() })
	g := New()
	g.AddPath(src)
	target := filepath.Join(alias, "disk.img")
	wantRefused(t, g.Check(target), target, src)
}

// The files a VMDK reads, as the disk reports them once open: descriptor
// and extent, whatever name reaches them.
func TestAddDisk(t *testing.T) {
	dir := t.TempDir()
	extent := writeFile(t, filepath.Join(dir, "d-flat.vmdk"), strings.Repeat("\x01", 1024))
	desc := writeFile(t, filepath.Join(dir, "d.vmdk"), "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 2 FLAT \"d-flat.vmdk\" 0\n")
	d, err := vmdk.Open(desc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	g := New()
	g.AddDisk(d)
	g.AddDisk(struct{}{}) // a disk with no local files adds nothing
	// Renamed after opening: the identity is the open file's, not the name's.
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(extent, moved); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, g.Check(moved), moved, extent)
	wantRefused(t, g.Check(desc), desc, desc)
}

// ForSources covers a VMDK's extents as well as the SOURCE paths, skips
// remote sources and opens no FIFO (which would block).
func TestForSources(t *testing.T) {
	dir := t.TempDir()
	extent := writeFile(t, filepath.Join(dir, "d-flat.vmdk"), strings.Repeat("\x01", 1024))
	desc := writeFile(t, filepath.Join(dir, "d.vmdk"), "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 2 FLAT \"d-flat.vmdk\" 0\n")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	g := ForSources([]string{desc, "ssh://root@host/vmfs/volumes/ds/d.vmdk", fifo, filepath.Join(dir, "missing")})
	wantRefused(t, g.Check(extent), extent, extent)
	wantRefused(t, g.Check(desc), desc, desc)
	wantRefused(t, g.Check(fifo), fifo, fifo)
}

// An export's workers check their files at once; the first checks fill
// the Guard's cache of block devices together (go test -race).
func TestConcurrentChecks(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "disk.img"), "data")
	g := ForSources([]string{src})
	errs := make(chan error, 16)
	for i := 0; i < cap(errs); i++ {
		go func() {
			f, err := os.CreateTemp(dir, "out")
			if err == nil {
				err = g.CheckFile(f.Name(), f)
				f.Close()
			}
			if err == nil && g.Check(src) == nil {
				err = errors.New("the source passed")
			}
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

package listing

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// The mode of an Entry (ls -l, --json) is what GNU ls -l writes for real
// files with the same modes: symlinks, sticky folders, setuid and setgid
// files with and without execute, pipes, devices.
func TestEntryModeMatchesLs(t *testing.T) {
	testenv.Tool(t, "ls")
	dir := t.TempDir()
	modes := map[string]fs.FileMode{
		"plain":         0o644,
		"exec":          0o755,
		"setuid":        0o755 | fs.ModeSetuid,
		"setuid-noexec": 0o644 | fs.ModeSetuid,
		"setgid":        0o2755,
		"setgid-noexec": 0o644 | fs.ModeSetgid,
		"sticky-dir":    0o755 | fs.ModeSticky | fs.ModeDir,
		"sticky-noexec": 0o754 | fs.ModeSticky | fs.ModeDir,
		"all":           0o777 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky,
		"dir":           0o700 | fs.ModeDir,
	}
	for name, m := range modes {
		p := filepath.Join(dir, name)
		var err error
		if m.IsDir() {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, nil, 0o600)
		}
		if err == nil {
			err = os.Chmod(p, m)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("plain", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	names := []string{"link", "fifo", "/dev/null"}
	for name := range modes {
		names = append(names, name)
	}
	for _, name := range names {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, name)
		}
		out, err := exec.Command("ls", "-ld", p).Output()
		if err != nil {
			t.Fatalf("ls -ld %s: %v", p, err)
		}
		want := strings.Fields(string(out))[0][:10] // a trailing '.' or '+' marks an SELinux context or ACL
		e, err := Describe(os.DirFS(filepath.Dir(p)), filepath.Base(p), false)
		if err != nil {
			t.Fatal(err)
		}
		if e.Mode != want {
			t.Errorf("%s: mode %s (%v), ls says %s", name, e.Mode, e.Info.Mode(), want)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cli runs the command line args as main does, with "-q", and returns
// its standard output, the error main would print and the exit status.
func cli(t *testing.T, args ...string) (stdout string, err error, code int) {
	t.Helper()
	return execute(t, append([]string{"-q"}, args...)...)
}

// execute runs the command line args as main does.
func execute(t *testing.T, args ...string) (stdout string, err error, code int) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err = cmd.Execute()
	return out.String(), err, exitCode(err)
}

// A path inside the volume that also exists on this machine ("/", a folder
// of the working directory) is a path inside the volume, not a SOURCE.
func TestVolumePathThatExistsLocally(t *testing.T) {
	res := genVolume(t, 6)
	t.Chdir(t.TempDir())
	if err := os.Mkdir("vm1", 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err, _ := cli(t, "ls", res.Image, "/"); err != nil || !strings.Contains(out, "/vm1\n") {
		t.Errorf("ls IMG /: %v\n%s", err, out)
	}
	if out, err, _ := cli(t, "ls", res.Image, "vm1"); err != nil || !strings.Contains(out, "/vm1/vm1.vmx\n") {
		t.Errorf("ls IMG vm1 (a local folder too): %v\n%s", err, out)
	}
	if out, err, _ := cli(t, "stat", "--json", res.Image, "/"); err != nil || !strings.Contains(out, `"type":"dir"`) {
		t.Errorf("stat --json IMG /: %v\n%s", err, out)
	}
	dest := filepath.Join(t.TempDir(), "X")
	if out, err, _ := cli(t, "export", res.Image, "/", "--to", dest); err != nil {
		t.Errorf("export IMG / --to X: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dest, "vm1", "vm1.vmx")); err != nil {
		t.Error(err)
	}
}

// A path not on the volume fails before the export's destination exists.
func TestExportMissingPathCreatesNothing(t *testing.T) {
	res := genVolume(t, 6)
	dest := filepath.Join(t.TempDir(), "X")
	_, err, code := cli(t, "export", res.Image, "/vm1", "/nope", "--to", dest)
	if code != exitFailure || !strings.Contains(err.Error(), "/nope") {
		t.Errorf("exit %d (%v), want %d naming /nope", code, err, exitFailure)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("destination created for a failed export: %v", err)
	}
}

// Several SOURCEs are written before --; written without it, the error
// says how.
func TestSeveralSourcesBeforeDash(t *testing.T) {
	res := spannedVolume(t)
	lun1, lun2 := res.Images[0], res.Images[1]
	if out, err, _ := cli(t, "ls", lun1, lun2, "--", "/span"); err != nil || !strings.Contains(out, "/span/across-extents.bin") {
		t.Fatalf("ls LUN1 LUN2 -- /span: %v\n%s", err, out)
	}
	hint := "vmfsrecover ls " + lun1 + " " + lun2 + " --"
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"ls", lun1, lun2, "/span"}, exitUsage},         // two paths for ls
		{[]string{"ls", lun1, lun2}, exitFailure},                // the volume's second disk missing
		{[]string{"ls", "-r", lun1, "--", "/span"}, exitFailure}, // dash given: no hint to give
	} {
		_, err, code := cli(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d (%v), want %d", tc.args, code, err, tc.code)
			continue
		}
		dashed := strings.Contains(strings.Join(tc.args, " "), " -- ")
		if got := strings.Contains(err.Error(), hint); got == dashed {
			t.Errorf("%v: hint %q given %v:\n%v", tc.args, hint, got, err)
		}
	}
	// A path not on the volume that names a local disk: the hint too.
	_, err, _ := cli(t, "cat", genVolume(t, 5).Image, lun1)
	if err == nil || !strings.Contains(err.Error(), "-- PATH") {
		t.Errorf("cat IMG LUN: %v", err)
	}
}

// The arguments are split without looking at the local file system.
func TestSplitSources(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		sources, paths string
	}{
		{[]string{"/dev/null"}, "/dev/null", ""},
		{[]string{"/dev/null", "/"}, "/dev/null", "."},
		{[]string{"/dev/null", "/dev/zero", "--"}, "/dev/null /dev/zero", ""},
		{[]string{"/dev/null", "--", "/a/", "--"}, "/dev/null", "a --"},
		{[]string{"nbd://h/x", "/tmp"}, "nbd://h/x", "tmp"},
	} {
		a, err := splitSources("export", tc.args, 0, -1)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if s, p := strings.Join(a.sources, " "), strings.Join(a.paths, " "); s != tc.sources || p != tc.paths {
			t.Errorf("%v: sources %q paths %q, want %q %q", tc.args, s, p, tc.sources, tc.paths)
		}
	}
	for _, args := range [][]string{{}, {"--", "/"}, {"/dev/null", "/a", "/b"}} {
		if _, err := splitSources("ls", args, 0, 1); exitCode(err) != exitUsage {
			t.Errorf("%v: exit %d (%v), want %d", args, exitCode(err), err, exitUsage)
		}
	}
	if _, err := splitSources("cat", []string{"/dev/null"}, 1, 1); exitCode(err) != exitUsage {
		t.Errorf("cat without PATH: exit %d (%v)", exitCode(err), err)
	}
}

// A missing required flag and a missing SOURCE are exit 2 in every command.
func TestUsageExitCodesAreUniform(t *testing.T) {
	res := genVolume(t, 6)
	dest := filepath.Join(t.TempDir(), "X")
	missing := filepath.Join(t.TempDir(), "nonexistent.img")
	for _, args := range [][]string{
		{"export", res.Image},
		{"verify"},
		{"dump", res.Image},
		{"ls", missing},
		{"ls", missing, "--", "/"},
		{"cat", missing, "/vm1/vm1.vmx"},
		{"stat", missing, "/"},
		{"preview", missing, "/vm1/vm1.vmx"},
		{"export", missing, "--to", dest},
		{"info", missing},
		{"dump", missing, "-o", dest},
		{"netcfg", missing},
		{"scan", res.Image, missing},
		{"scan", "--deep", "--scan-dir", t.TempDir(), missing},
		{"wizard", missing},
	} {
		_, err, code := cli(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d (%v), want %d", args, code, err, exitUsage)
		} else if args[len(args)-1] == missing && !strings.Contains(err.Error(), "SOURCE "+missing+": ") {
			t.Errorf("%v: %v does not name the SOURCE as typed", args, err)
		}
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("a failed command created %s", dest)
	}
}

// preview --offset past the end of a file is the usage error cat gives.
func TestPreviewOffsetPastEndLikeCat(t *testing.T) {
	res := genVolume(t, 6)
	_, catErr, catCode := cli(t, "cat", "--offset", "99999", res.Image, "/vm1/vm1.vmx")
	_, prevErr, prevCode := cli(t, "preview", "--offset", "99999", res.Image, "/vm1/vm1.vmx")
	if catCode != exitUsage || prevCode != catCode || prevErr.Error() != catErr.Error() {
		t.Errorf("cat: exit %d (%v); preview: exit %d (%v)", catCode, catErr, prevCode, prevErr)
	}
	if out, err, _ := cli(t, "preview", "--offset", "3", res.Image, "/vm1/vm1.vmx"); err != nil || !strings.Contains(out, "playName") {
		t.Errorf("preview --offset 3: %v\n%s", err, out)
	}
}

// info of an empty source fails saying so, instead of describing a 0-byte
// raw disk and the descriptor that would make it a VMDK.
func TestInfoOfEmptySource(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.img")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{empty, os.DevNull} {
		out, err, code := cli(t, "info", src)
		if code != exitFailure || !strings.Contains(err.Error(), src+": source is empty") || strings.Contains(out, "descriptor") {
			t.Errorf("info %s: exit %d (%v)\n%s", src, code, err, out)
		}
	}
}

// FuzzSplitSources: whatever the arguments, the SOURCEs are the arguments
// before the first "--" (or the first argument), never empty on success,
// and every other argument is one path.
func FuzzSplitSources(f *testing.F) {
	f.Add("/dev/null\x00/", 1)
	f.Add("/dev/null\x00/dev/zero\x00--\x00/a\x00--", -1)
	f.Add("--\x00/", 1)
	f.Add("nbd://h/x\x00a/b/", 0)
	f.Fuzz(func(t *testing.T, joined string, maxPaths int) {
		args := strings.Split(joined, "\x00")
		if joined == "" {
			args = nil
		}
		maxPaths = maxPaths%4 - 1
		a, err := splitSources("ls", args, 0, maxPaths)
		if err != nil {
			if exitCode(err) != exitUsage {
				t.Fatalf("%q: exit %d (%v)", args, exitCode(err), err)
			}
			return
		}
		dash := slices.Index(args, "--")
		switch {
		case len(a.sources) == 0:
			t.Fatalf("%q: no SOURCE and no error", args)
		case dash < 0 && (len(a.sources) != 1 || a.sources[0] != args[0]):
			t.Fatalf("%q: sources %q", args, a.sources)
		case dash >= 0 && !slices.Equal(a.sources, args[:dash]):
			t.Fatalf("%q: sources %q", args, a.sources)
		case len(a.paths) != len(a.typed) || len(a.sources)+len(a.paths)+btoi(dash >= 0) != len(args):
			t.Fatalf("%q: sources %q paths %q", args, a.sources, a.paths)
		case maxPaths >= 0 && len(a.paths) > maxPaths:
			t.Fatalf("%q: %d paths, at most %d allowed", args, len(a.paths), maxPaths)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

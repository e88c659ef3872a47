package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// systemCall matches the names os.Root gives its operations in errors.
var systemCall = regexp.MustCompile(`\b(open|stat|fstat|mkdir|symlink|rename|unlink|readlink|link)at\b`)

// withStderr runs fn with os.Stderr going to a file and returns what was
// written there.
func withStderr(t *testing.T, fn func()) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	defer func() { os.Stderr = saved }()
	fn()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An export whose destination is in the way reports each failed file once,
// in plain lines without system-call names or slog's time=... level=...
func TestExportFailuresPlainAndOnce(t *testing.T) {
	res := genVolume(t, 6)
	dest := t.TempDir()
	if err := os.WriteFile(filepath.Join(dest, "vm1"), nil, 0o644); err != nil { // a file where a folder goes
		t.Fatal(err)
	}
	var out string
	var code int
	stderr := withStderr(t, func() {
		out, _, code = execute(t, "export", res.Image, "/vm1", "--to", dest)
	})
	if code != exitPartial {
		t.Errorf("exit %d, want %d", code, exitPartial)
	}
	manifest, _ := os.ReadFile(filepath.Join(dest, "vmfsrecover-manifest.jsonl"))
	for what, text := range map[string]string{"output": out + stderr, "manifest": string(manifest)} {
		if m := systemCall.FindString(text); m != "" || strings.Contains(text, "level=") || strings.Contains(text, "time=") {
			t.Errorf("%s names %q or has slog lines:\n%s", what, m, text)
		}
	}
	// Once in the report; the progress lines on stderr say "failed: NAME"
	// as they go, and no log line repeats it with the error.
	if n := strings.Count(out, "failed\tvm1/vm1.vmx\t"); n != 1 || strings.Contains(stderr, "source=vm1/vm1.vmx") {
		t.Errorf("vm1/vm1.vmx reported %d times in the output; stderr:\n%s", n, stderr)
	}
}

// Ctrl-C is reported as an interruption, not as "context canceled".
func TestInterruptedSaysSo(t *testing.T) {
	res := genVolume(t, 6)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := runLs(ctx, &lsOptions{globalOptions: &globalOptions{quiet: true}, recursive: true}, []string{res.Image}, &bytes.Buffer{})
	if exitCode(err) != exitInterrupted || errorLine(err) != "vmfsrecover: interrupted; what was done so far is kept" {
		t.Errorf("exit %d, %q", exitCode(err), errorLine(err))
	}
}

// A folder given as SOURCE is a usage error naming it as typed, except
// for netcfg, which reads an extracted support bundle's folder.
func TestFolderSource(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	for _, args := range [][]string{
		{"info", dir}, {"ls", dir}, {"scan", dir}, {"wizard", dir},
		{"dump", dir, "-o", out}, {"image", dir, "-o", out, "--map", out + ".map"},
	} {
		_, err, code := cli(t, args...)
		if code != exitUsage || !strings.Contains(err.Error(), "SOURCE "+dir+": is a folder") {
			t.Errorf("%v: exit %d (%v)", args, code, err)
		}
	}
	bundle := t.TempDir()
	conf, err := os.ReadFile(netcfgFixture(t, "esx4x/esx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(bundle, "etc", "vmware"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "etc", "vmware", "esx.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err, _ := cli(t, "netcfg", "--json", bundle); err != nil || !strings.Contains(out, "vmk") {
		t.Errorf("netcfg of a bundle's folder: %v\n%s", err, out)
	}
}

package testenv

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// recorder stands in for a test: it records how testenv stopped it.
type recorder struct {
	testing.TB
	how, msg string
}

// stop keeps the first way only: a real test would not have gone on.
func (r *recorder) stop(how, msg string) {
	if r.how == "" {
		r.how, r.msg = how, msg
	}
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skip(args ...any)               { r.stop("skip", fmt.Sprint(args...)) }
func (r *recorder) Log(args ...any)                { r.stop("log", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, a ...any) { r.stop("fatal", fmt.Sprintf(format, a...)) }

func TestMissingToolSkipsOrFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing on PATH; tmux is never in sbin
	for _, c := range []struct{ require, how string }{{"", "skip"}, {"0", "skip"}, {"1", "fatal"}} {
		t.Setenv(RequireEnv, c.require)
		r := &recorder{TB: t}
		if path := Tool(r, "tmux"); path != "" {
			t.Fatalf("Tool found tmux at %s with an empty PATH", path)
		}
		if r.how != c.how || !strings.Contains(r.msg, "tmux") || !strings.Contains(r.msg, "Debian package tmux") {
			t.Errorf("%s=%q: %s %q, want a %s naming tmux and its package", RequireEnv, c.require, r.how, r.msg, c.how)
		}
	}
}

func TestLookToolLogsOrFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for require, how := range map[string]string{"": "log", "1": "fatal"} {
		t.Setenv(RequireEnv, require)
		r := &recorder{TB: t}
		if _, ok := LookTool(r, "nbdkit"); ok || r.how != how || !strings.Contains(r.msg, "Debian package nbdkit") {
			t.Errorf("%s=%q: ok %v, %s %q; want not found and a %s", RequireEnv, require, ok, r.how, r.msg, how)
		}
	}
}

func TestLacksFailsWhenRequired(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	r := &recorder{TB: t}
	Lacks(r, "loop devices need root")
	if r.how != "fatal" || !strings.Contains(r.msg, "loop devices need root") {
		t.Errorf("got %s %q", r.how, r.msg)
	}
}

func TestUnknownToolIsAnError(t *testing.T) {
	r := &recorder{TB: t}
	Tool(r, "no-such-program")
	if r.how != "fatal" || !strings.Contains(r.msg, "add it") {
		t.Errorf("got %s %q, want a failure asking to add the program to the table", r.how, r.msg)
	}
}

func TestFindsToolInSbin(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := os.Stat("/usr/sbin/losetup"); err != nil {
		if _, err := os.Stat("/sbin/losetup"); err != nil {
			Lacks(t, "losetup not installed (Debian package mount)")
		}
	}
	if path := Tool(t, "losetup"); !strings.HasSuffix(path, "sbin/losetup") {
		t.Errorf("Tool(losetup) = %q, want it from an sbin folder", path)
	}
}

// TestCIInstallsEveryPackage: a package a test needs but .ci/run does not
// install would fail CI under VMFSRECOVER_REQUIRE_TOOLS=1 only on a clean
// machine; this catches it on any machine.
func TestCIInstallsEveryPackage(t *testing.T) {
	script, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^packages=\(([^)]*)\)`).FindSubmatch(script)
	if m == nil {
		t.Fatal(".ci/run has no packages=(...) line")
	}
	if !regexp.MustCompile(`(?m)^export ` + RequireEnv + `=1$`).Match(script) {
		t.Errorf(".ci/run does not export %s=1", RequireEnv)
	}
	installed := map[string]bool{}
	for _, p := range strings.Fields(string(m[1])) {
		installed[p] = true
	}
	for tool, pkg := range debianPackages {
		if !installed[pkg] {
			t.Errorf("%s needs Debian package %s, which .ci/run does not install", tool, pkg)
		}
	}
}

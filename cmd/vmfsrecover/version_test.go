package main

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// Without a version set at link time, the build info's commit names the
// build: never "(devel)".
func TestBuildVersion(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "951552cdc3fcf2a1e55b45b59dacd44105c8c36e"},
		{Key: "vcs.time", Value: "2026-12-02T16:57:15Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	devel := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}
	pseudo := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202165715-951552cdc3fc"}, Settings: vcs}
	for _, tc := range []struct {
		set  string
		bi   *debug.BuildInfo
		want string
	}{
		{"", devel, "vmfsrecover devel-951552cdc3fc-dirty (commit 951552cdc3fcf2a1e55b45b59dacd44105c8c36e of 2026-12-02T16:57:15Z, with uncommitted changes), go1.26.8"},
		{"", pseudo, "vmfsrecover v0.0.0-20261202165715-951552cdc3fc (commit 951552cdc3fcf2a1e55b45b59dacd44105c8c36e of 2026-12-02T16:57:15Z, with uncommitted changes)"},
		{"v1.2.0-3-g951552c", devel, "vmfsrecover v1.2.0-3-g951552c (commit 951552cdc3fcf2a1e55b45b59dacd44105c8c36e of 2026-12-02T16:57:15Z, with uncommitted changes), go1.26.8"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "vmfsrecover devel (built without version information: 'make build' records it)"},
	} {
		if got := buildVersion(tc.set, tc.bi, true).String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// make build records git describe in the binary.
func TestMakeBuildRecordsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tool := range []string{"make", "git"} {
		testenv.Tool(t, tool)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	describe, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		testenv.Lacks(t, "not a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "vmfsrecover")
	if out, err := exec.Command("make", "-C", root, "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "vmfsrecover " + strings.TrimSpace(string(describe)); !strings.HasPrefix(string(out), want) {
		t.Errorf("version = %q, want it to start with %q", out, want)
	}
}

package wizard

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestTerminalGolden keeps the whole transcript of a typed recovery as a
// golden file (testdata/terminal.golden; go test -update rewrites it), so
// that any change of what a person sees shows in review. Temporary paths
// and the free space are normalised.
func TestTerminalGolden(t *testing.T) {
	img, _ := testVolume(t)
	dir := filepath.Join(t.TempDir(), "recovered")
	input := strings.Join([]string{
		"", "", "?", "f disks", "p 1", "s", "f vms", "1", "/web", "d", "1", dir, "n", "", dir, "y", "",
	}, "\n") + "\n"
	w := New(Options{})
	defer w.Close()
	out, err := runTerminal(t, w, input, img)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out = strings.ReplaceAll(out, filepath.Dir(img), "$SRC")
	out = strings.ReplaceAll(out, filepath.Dir(dir), "$DST")
	out = regexp.MustCompile(`[0-9.]+ [KMGT]iB free: enough`).ReplaceAllString(out, "$$FREE free: enough")
	p := filepath.Join("testdata", "terminal.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if out != string(want) {
		t.Errorf("transcript differs from %s (go test -update rewrites it):\n%s", p, out)
	}
}

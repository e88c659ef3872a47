package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
)

// TestBodyfileReadByMactime: ls --bodyfile of a volume, and of its deep
// scan with a deleted file, is read by mactime, which places each file at
// the times its descriptor holds and shows the deleted one as such.
func TestBodyfileReadByMactime(t *testing.T) {
	mactime := testenv.Tool(t, "mactime")
	res := genVolume(t, 5)
	for _, deep := range []bool{false, true} {
		var body bytes.Buffer
		o := &lsOptions{globalOptions: &globalOptions{quiet: true}, bodyfile: true, vol: volumeFlags{deep: deep, scanDir: t.TempDir()}}
		if err := runLs(context.Background(), o, []string{res.Image}, &body); err != nil {
			t.Fatalf("deep=%v: %v", deep, err)
		}
		for _, l := range strings.Split(strings.TrimSpace(body.String()), "\n") {
			if n := strings.Count(l, "|"); n != 10 {
				t.Errorf("deep=%v: %d separators, want 10: %q", deep, n, l)
			}
		}
		path := filepath.Join(t.TempDir(), "body")
		os.WriteFile(path, body.Bytes(), 0o644)
		out, err := exec.Command(mactime, "-b", path, "-z", "UTC", "-d", "-y").CombinedOutput()
		if err != nil {
			t.Fatalf("mactime: %v\n%s", err, out)
		}
		// genVolume gives every descriptor 2024-01-02 03:04:05 UTC.
		want := map[string]string{
			`"/vm1/vm1.vmx"`:                  "2024-01-02T03:04:05Z,20,mac.,r/rrw-r--r--",
			`"/vm1/link -> vm1.vmx"`:          "2024-01-02T03:04:05Z,7,mac.,l/lrwxrwxrwx",
			`"/vm1/disk-flat.vmdk"`:           "2024-01-02T03:04:05Z,3145728,mac.",
			`"/old.log (deleted)"`:            "2024-01-02T03:04:05Z,10000,mac.",
			`"/lost+found/old.log (deleted)"`: "",
		}
		rows := string(out)
		for name, prefix := range want {
			if prefix == "" {
				continue
			}
			if strings.Contains(name, "deleted") != deep {
				continue
			}
			found := false
			for _, row := range strings.Split(rows, "\n") {
				if strings.HasSuffix(row, ","+name) && strings.HasPrefix(row, prefix) {
					found = true
				}
			}
			if !found {
				t.Errorf("deep=%v: mactime shows no row %s...%s:\n%s", deep, prefix, name, rows)
			}
		}
	}
}

// What ls --bodyfile reads the inode, owner and times from.
var (
	_ listing.Metadata = (*vmfs.Attributes)(nil)
	_ listing.Metadata = (*deepscan.Finding)(nil)
)

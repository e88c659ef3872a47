package export

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func localHarness(t *testing.T) *harness {
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{
		dest:  d,
		links: true,
		mtime: func(t *testing.T, name string) (time.Time, bool) {
			fi, err := os.Stat(filepath.Join(d.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return fi.ModTime().UTC(), true
		},
	}
}

func TestLocalConformance(t *testing.T) { runConformance(t, localHarness) }

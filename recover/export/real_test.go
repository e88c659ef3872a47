package export

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestRealVolumes exports each real sample whole and checks every file's
// manifest hash and size, and every link, against the sample's expected
// listing made by independent readers; then Verify re-reads the copy.
func TestRealVolumes(t *testing.T) {
	for _, name := range []string{"vmfs5", "vmfs6", "vmfs3"} {
		t.Run(name, func(t *testing.T) {
			if name != "vmfs5" && os.Getenv("EXPORT_REAL_ALL") == "" {
				// Unpacking and hashing 1 GiB samples takes a minute on a
				// busy 2-core machine; the vmfs package reads them anyway.
				t.Skip("set EXPORT_REAL_ALL=1 to export the 1 GiB VMFS6 and VMFS3 samples too")
			}
			img, want := vmfstest.RealSample(t, name)
			srcs, err := source.ForDiscover([]string{img}, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			vol, s, err := discover.OpenVolume(srcs, "", discover.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			d, err := NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			d.NoSync = true
			// The VMFS6 and VMFS3 samples' metadata files hold 760 and 190
			// MiB: checked on VMFS5 only, to keep the suite short.
			bigMeta := func(p string, fi fs.FileInfo) bool {
				return name != "vmfs5" && !strings.Contains(p, "/") && strings.HasSuffix(p, ".sf")
			}
			rep, err := Export(context.Background(), vol, nil, d, Options{Workers: 2, Exclude: bigMeta})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Failed != 0 {
				t.Fatalf("%d failed: %+v", rep.Failed, rep.Entries)
			}
			es := byDest(rep.Entries)
			files := 0
			sc := bufio.NewScanner(strings.NewReader(want))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 4 {
					continue
				}
				p := strings.TrimPrefix(f[3], "/")
				if bigMeta(p, nil) {
					continue
				}
				e, ok := es[p]
				switch {
				case !ok:
					t.Errorf("%s: not exported", p)
				case f[0] == "f":
					files++
					if e.SHA256 != f[2] || e.Status != StatusExported {
						t.Errorf("%s: %s %s, want sha256 %s", p, e.Status, e.SHA256, f[2])
					}
				case f[0] == "l":
					if e.Target != f[2] || e.Status != StatusLinked {
						t.Errorf("%s: link %+v, want target %s", p, e, f[2])
					}
					if got, err := os.Readlink(filepath.Join(d.Dir, p)); err != nil || got != f[2] {
						t.Errorf("%s: link in the destination %q, %v", p, got, err)
					}
				}
			}
			if rep.Exported != files {
				t.Errorf("%d exported, the listing has %d files", rep.Exported, files)
			}
			conn := connect(t, d)
			res, err := Verify(context.Background(), conn, manifestOf(t, conn), nil)
			if err != nil || res.Checked != files {
				t.Fatalf("verify: %v %+v", err, res)
			}
		})
	}
}

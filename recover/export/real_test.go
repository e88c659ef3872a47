package export

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/discover"
)

// realDir holds the volumes made by real VMware hosts (never copied into
// this repository; see its README).
const realDir = "../../../shared/testdata/real"

// gunzipSparse unpacks a sample, seeking over all-zero 64 KiB blocks.
func gunzipSparse(t *testing.T, src string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Skipf("real sample %s not available (%v); it lives in ../shared/testdata/real", src, err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".gz"))
	// gzip and cp --sparse are much faster than compress/gzip under the
	// race detector; the Go loop below is the fallback.
	if _, err := exec.LookPath("gzip"); err == nil {
		sh := `gzip -dc "$1" | cp --sparse=always /dev/stdin "$2"`
		if err := exec.Command("sh", "-c", sh, "sh", src, dst).Run(); err == nil {
			return dst
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, err := io.ReadFull(zr, buf)
		if n > 0 && !bytes.Equal(buf[:n], zeros[:n]) {
			if _, werr := out.WriteAt(buf[:n], off); werr != nil {
				t.Fatal(werr)
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Truncate(off); err != nil {
		t.Fatal(err)
	}
	return dst
}

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
			img := gunzipSparse(t, filepath.Join(realDir, name+".img.gz"))
			want, err := os.ReadFile(filepath.Join(realDir, name+".expected"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := discover.Open([]string{img}, discover.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.Select("")
			if err != nil {
				t.Fatal(err)
			}
			vol, err := s.OpenVolume(v)
			if err != nil {
				t.Fatal(err)
			}
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
			sc := bufio.NewScanner(bytes.NewReader(want))
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

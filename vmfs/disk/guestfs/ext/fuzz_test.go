package ext

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/guestfstest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// seeds are the gzipped files the glob pattern names, unpacked: the
// images testdata/gen.sh made ("testdata/*.img.gz"), the inputs that once
// failed FuzzOpen ("testdata/crashers/*.img.gz": the fuzz corpus's text
// form of a 256 KiB image is 1 MiB, so they are kept gzipped here), the
// kernel's crash images and their journals testdata/journal/gen.sh made.
func seeds(t testing.TB, pattern string) map[string][]byte {
	t.Helper()
	paths, _ := filepath.Glob(pattern)
	if len(paths) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// TestSeedsMatchDebugfs: the seeds' trees are debugfs's.
func TestSeedsMatchDebugfs(t *testing.T) {
	for name, b := range seeds(t, "testdata/*.img.gz") {
		t.Run(name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "seed.img")
			if err := os.WriteFile(img, b, 0o644); err != nil {
				t.Fatal(err)
			}
			fsys := openImage(t, img, guestfs.Options{})
			got := ourTree(t, fsys)
			compareTrees(t, "debugfs rdump", got, debugfsTree(t, img, got))
			if len(got) < 5 {
				t.Errorf("seed tree %v: too small", got)
			}
		})
	}
}

// isFormatError: the errors a damaged image may give.
func isFormatError(err error) bool {
	var fe *ondisk.FormatError
	return errors.As(err, &fe)
}

// maxFuzzRead bounds what the fuzz target reads of one file.
const maxFuzzRead = 1 << 20

// FuzzOpen: any image opens or fails with a FormatError; every file of
// one that opens reads its size (up to maxFuzzRead) or fails with a
// FormatError; reading in one ReadAt and in small Reads agree, and what
// the allocation map leaves out reads as zeros.
func FuzzOpen(f *testing.F) {
	for _, dir := range []string{"testdata", "testdata/crashers", "testdata/journal"} {
		for _, b := range seeds(f, filepath.Join(dir, "*.img.gz")) {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, deleted := range []bool{false, true} {
			fsys, err := Open(bytes.NewReader(b), int64(len(b)), guestfs.Options{Deleted: deleted})
			if err != nil {
				if !isFormatError(err) {
					t.Fatalf("Open: %v is not a FormatError", err)
				}
				return
			}
			seen := 0
			fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					if !isFormatError(err) && !errors.Is(err, errNotDir) {
						t.Fatalf("%s: %v is not a FormatError", p, err)
					}
					return nil
				}
				if seen++; seen > 10000 {
					return fs.SkipAll
				}
				if d.Type()&fs.ModeSymlink != 0 {
					if _, err := fsys.ReadLink(p); err != nil && !isFormatError(err) {
						t.Fatalf("readlink %s: %v", p, err)
					}
					return nil
				}
				if d.IsDir() {
					return nil
				}
				guestfstest.CheckFile(t, fsys, p, maxFuzzRead, func(err error) bool { return isFormatError(err) || errors.Is(err, fs.ErrNotExist) })
				return nil
			})
		}
	})
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"plain.txt":     "plain.txt",
		"caf\xe9":       `caf\xe9`,
		"é ok":          "é ok",
		`back\slash`:    `back\slash`,
		`looks\x41like`: `looks\x5cx41like`,
		"a/b":           `a\x2fb`,
	} {
		if got := displayName([]byte(in)); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

package vmfstest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// The real volumes made by VMware hosts live beside the repository, in
// ../shared/testdata/real (see its README); they are never copied into it.

var (
	realMu   sync.Mutex
	realTmp  string                // the folder RunTests made for this test binary
	realDone = map[string]string{} // sample name -> unpacked image
)

// RealDir finds ../shared/testdata/real next to the module root (the
// folder holding go.mod), from the test's working directory; "" when it is
// not there.
func RealDir() string {
	root := testenv.ModuleRoot()
	if root == "" {
		return ""
	}
	real := filepath.Join(root, "..", "shared", "testdata", "real")
	if _, err := os.Stat(real); err != nil {
		return ""
	}
	return real
}

// RealFile returns the path of file name in the real samples' folder
// ("vmfs5.expected", "vmfs6.img.gz"). When it is not there the test stops
// through testenv.Lacks: skipped, or failed where every sample must be
// present (VMFSRECOVER_REQUIRE_TOOLS=1).
func RealFile(tb testing.TB, name string) string {
	tb.Helper()
	dir := RealDir()
	if dir == "" {
		testenv.Lacks(tb, "real samples not available: ../shared/testdata/real is not beside the module root")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		testenv.Lacks(tb, "real sample %s not available: %v", name, err)
	}
	return path
}

// RealSample returns the path of the real sample NAME ("vmfs3", "vmfs5",
// "vmfs6") unpacked once per test binary into a sparse temporary file
// (all-zero 64 KiB blocks are skipped), and its expected listing. It skips
// the test, as RealFile does, when the samples are not available. The
// package's TestMain must run its tests through RunTests, which removes the
// unpacked files when they end.
func RealSample(tb testing.TB, name string) (image, expected string) {
	tb.Helper()
	want, err := os.ReadFile(RealFile(tb, name+".expected"))
	if err != nil {
		tb.Fatal(err)
	}
	realMu.Lock()
	defer realMu.Unlock()
	if realTmp == "" {
		tb.Fatal("vmfstest.RealSample needs the package's TestMain to call vmfstest.RunTests, which removes the unpacked samples")
	}
	if img, ok := realDone[name]; ok {
		return img, string(want)
	}
	img := filepath.Join(realTmp, name+".img")
	if err := gunzipSparse(RealFile(tb, name+".img.gz"), img); err != nil {
		tb.Fatalf("unpacking %s: %v", name, err)
	}
	realDone[name] = img
	return img, string(want)
}

// RunTests runs m's tests with a folder for the real samples RealSample
// unpacks, and removes it when they end: call it from TestMain, as
// os.Exit(vmfstest.RunTests(m)).
func RunTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vmfsrecover-real-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmfstest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	realMu.Lock()
	realTmp = dir
	realMu.Unlock()
	return m.Run()
}

func gunzipSparse(src, dst string) error {
	// gzip and cp --sparse are much faster than compress/gzip under the
	// race detector; the Go loop below is the fallback.
	if _, err := exec.LookPath("gzip"); err == nil {
		sh := `gzip -dc "$1" | cp --sparse=always /dev/stdin "$2"`
		if err := exec.Command("sh", "-c", sh, "sh", src, dst).Run(); err == nil {
			return nil
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	buf, zero := make([]byte, 64<<10), make([]byte, 64<<10)
	var off int64
	for {
		n, err := io.ReadFull(zr, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := out.WriteAt(buf[:n], off); werr != nil {
				return werr
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return out.Truncate(off)
}

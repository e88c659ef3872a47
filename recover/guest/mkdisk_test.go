package guest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
)

// sparseImage creates an empty image of size bytes.
func sparseImage(t testing.TB, name string, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// guestFile is a file the tests put into a guest file system and expect
// back: its path there and the sha256 its file system's own tool reads.
type guestFile struct {
	path   string
	size   int
	sha256 string
}

// fatFiles formats the bytes of img from byte start, size bytes, as FAT
// (bits 12, 16 or 32) with mkfs.fat, writes files there with mtools, and
// returns them with the sha256 mcopy reads back.
func fatFiles(t testing.TB, img string, start, size int64, bits int, sizes map[string]int) []guestFile {
	t.Helper()
	guesttest.Run(t, "", "mkfs.fat", "-F", fmt.Sprint(bits), "--offset", fmt.Sprint(start/512), img, fmt.Sprint(size/1024))
	at := fmt.Sprintf("%s@@%d", img, start)
	src := t.TempDir()
	made := map[string]bool{}
	var files []guestFile
	for name, n := range sizes {
		if dir := filepath.Dir(name); dir != "." && !made[dir] {
			parts := strings.Split(dir, "/")
			for i := range parts {
				d := strings.Join(parts[:i+1], "/")
				if !made[d] {
					made[d] = true
					guesttest.Run(t, "", "mmd", "-i", at, "::/"+d)
				}
			}
		}
		local := filepath.Join(src, strings.ReplaceAll(name, "/", "_"))
		b := make([]byte, n)
		rand.Read(b)
		if err := os.WriteFile(local, b, 0o644); err != nil {
			t.Fatal(err)
		}
		guesttest.Run(t, "", "mcopy", "-i", at, local, "::/"+name)
		back := guesttest.Run(t, "", "mcopy", "-n", "-i", at, "::/"+name, "-")
		sum := sha256.Sum256([]byte(back))
		files = append(files, guestFile{path: name, size: n, sha256: hex.EncodeToString(sum[:])})
	}
	return files
}

// hostFiles writes files of the given sizes (random bytes) under a new
// folder and returns it.
func hostFiles(t testing.TB, sizes map[string]int) string {
	t.Helper()
	src := t.TempDir()
	for name, n := range sizes {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		rand.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// extFiles formats size bytes of img from byte start as ext4 holding the
// files of src (mkfs.ext4 -d), and returns them with the sha256 debugfs
// reads back.
func extFiles(t testing.TB, img string, start, size int64, src string, names []string) []guestFile {
	t.Helper()
	guesttest.Run(t, "", "mkfs.ext4", "-q", "-E", fmt.Sprintf("offset=%d", start), "-d", src, img, fmt.Sprintf("%dk", size/1024))
	var files []guestFile
	for _, name := range names {
		back := guesttest.Run(t, "", "debugfs", "-R", "cat /"+name, fmt.Sprintf("%s?offset=%d", img, start))
		sum := sha256.Sum256([]byte(back))
		files = append(files, guestFile{path: name, size: len(back), sha256: hex.EncodeToString(sum[:])})
	}
	return files
}

// placeImage copies the file system image fsimg into img at byte start,
// leaving holes as holes.
func placeImage(t testing.TB, img string, start int64, fsimg string) {
	t.Helper()
	guesttest.Run(t, "", "dd", "if="+fsimg, "of="+img, "bs=1M", fmt.Sprintf("seek=%d", start>>20), "conv=notrunc,sparse", "status=none")
}

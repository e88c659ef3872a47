package zerocopy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// source writes size pseudo-random bytes to a file and opens it.
func source(t *testing.T, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	path := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

func TestCopyToRegularFile(t *testing.T) {
	src, data := source(t, 3<<20+123)
	if _, err := src.Seek(77, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dst")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	// Two copies one after the other land one after the other, as two
	// Writes would.
	if _, err := dst.Write([]byte("head")); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{5, 1 << 20}, {2 << 20, 1<<20 + 123}} {
		n, err := Copy(dst, src, r[0], r[1])
		if err != nil || n != r[1] {
			t.Fatalf("Copy(%d, %d) = %d, %v", r[0], r[1], n, err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("head"), data[5:5+1<<20]...)
	want = append(want, data[2<<20:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("the copy differs from the source's bytes (%d bytes, want %d)", len(got), len(want))
	}
	if pos, _ := src.Seek(0, io.SeekCurrent); pos != 77 {
		t.Errorf("the source's offset moved to %d", pos)
	}
}

func TestCopyToPipe(t *testing.T) {
	src, data := source(t, 5<<20)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	n, err := Copy(w, src, 1000, 4<<20)
	w.Close()
	if err != nil || n != 4<<20 {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if !bytes.Equal(<-got, data[1000:1000+4<<20]) {
		t.Fatal("the bytes read from the pipe differ from the source's")
	}
}

func TestCopyToDevNull(t *testing.T) {
	src, _ := source(t, 1<<20)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if n, err := Copy(null, src, 0, 1<<20); err != nil || n != 1<<20 {
		t.Fatalf("Copy = %d, %v", n, err)
	}
}

// A block device (a disk being recovered) to a regular file:
// copy_file_range(2) takes regular files only, so Copy falls back to
// sendfile(2), and the bytes arrive.
func TestCopyFromBlockDevice(t *testing.T) {
	losetup := testenv.Tool(t, "losetup")
	src, data := source(t, 2<<20)
	out, err := exec.Command(losetup, "-f", "-r", "--show", src.Name()).CombinedOutput()
	if err != nil {
		testenv.Lacks(t, "losetup not permitted here (needs root): %v %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(losetup, "-d", dev).Run() })
	blk, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer blk.Close()
	path := filepath.Join(t.TempDir(), "dst")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if n, err := Copy(dst, blk, 4096, 1<<20); err != nil || n != 1<<20 {
		t.Fatalf("Copy from %s = %d, %v", dev, n, err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data[4096:4096+1<<20]) {
		t.Fatalf("the copy from %s differs from the device's bytes (%v)", dev, err)
	}
}

// An output opened to append is one neither call writes to: the error
// says so, and nothing was written.
func TestCopyRefusedForAppend(t *testing.T) {
	src, _ := source(t, 1<<20)
	path := filepath.Join(t.TempDir(), "dst")
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	n, err := Copy(dst, src, 0, 1<<20)
	if n != 0 || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Copy = %d, %v; want 0 and an error that is errors.ErrUnsupported", n, err)
	}
	if info, _ := os.Stat(path); info.Size() != 0 {
		t.Fatalf("%d bytes written", info.Size())
	}
}

// A source shorter than the range asked for: the bytes it has are
// copied, and the error says the rest was not there.
func TestCopyPastEnd(t *testing.T) {
	src, _ := source(t, 1<<20)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	n, err := Copy(null, src, 1<<19, 1<<20)
	if n != 1<<19 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Copy = %d, %v; want %d and io.ErrUnexpectedEOF", n, err, 1<<19)
	}
}

type dest struct {
	io.Writer
	f *os.File
}

func (d dest) OutputFile() *os.File { return d.f }

func TestTarget(t *testing.T) {
	f := os.Stdout
	for _, c := range []struct {
		name string
		w    io.Writer
		want *os.File
	}{
		{"file", f, f},
		{"Dest", dest{io.Discard, f}, f},
		{"Dest declining", dest{io.Discard, nil}, nil},
		{"other writer", &bytes.Buffer{}, nil},
	} {
		if got := Target(c.w); got != c.want {
			t.Errorf("%s: Target = %v, want %v", c.name, got, c.want)
		}
	}
}

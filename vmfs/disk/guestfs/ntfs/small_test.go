package ntfs

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"golang.org/x/sys/unix"
)

// testdata/small.img.gz is a 2 MiB NTFS volume (1 KiB clusters) small
// enough to fuzz and to keep in the repository, so that the fuzz corpus
// (patches to it) replays the same bytes on every machine. It is made by
// mkntfs and ntfs-3g: go test -run TestSmallImage -regenerate.
var regenerate = flag.Bool("regenerate", false, "write testdata/small.img.gz anew with mkntfs and ntfs-3g")

const smallImage = "testdata/small.img.gz"

func TestSmallImage(t *testing.T) {
	if !*regenerate {
		t.Skip("-regenerate writes testdata/small.img.gz anew")
	}
	mkntfs, ntfs3g := testenv.Tool(t, "mkntfs"), testenv.Tool(t, "ntfs-3g")
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "small.img"), filepath.Join(dir, "mnt")
	if err := os.WriteFile(img, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkntfs, "-F", "-f", "-q", "-c", "1024", "-L", "small", img).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs: %v: %s", err, out)
	}
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command(ntfs3g, "-o", "streams_interface=xattr", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("ntfs-3g: %v: %s", err, out)
	}
	p := func(name string) string { return filepath.Join(mnt, name) }
	must := func(err error) {
		if err != nil {
			exec.Command("umount", mnt).Run()
			t.Fatal(err)
		}
	}
	text, noise := smallText(), smallNoise()
	must(os.WriteFile(p("hello.txt"), []byte("hello\n"), 0o644))
	must(os.WriteFile(p("a.bin"), noise, 0o644))
	must(os.Mkdir(p("d"), 0o755))
	for i := range 40 {
		must(os.WriteFile(p("d/file-with-a-long-name-"+string(rune('a'+i%26))+string(rune('a'+i/26))), text[:100+i], 0o644))
	}
	must(os.WriteFile(p("s.txt"), []byte("main\n"), 0o644))
	must(unix.Setxattr(p("s.txt"), "user.ads", []byte("stream!\n"), 0))
	must(os.Mkdir(p("c"), 0o755))
	must(unix.Setxattr(p("c"), "system.ntfs_attrib_be", []byte{0, 0, 0x08, 0}, 0))
	must(os.WriteFile(p("c/c.txt"), text, 0o644))
	f, err := os.Create(p("sp.bin"))
	must(err)
	f.WriteAt(noise[:4096], 0)
	f.WriteAt(noise[:4096], 64<<10)
	must(f.Truncate(128 << 10))
	f.Close()
	// 300 runs of data between holes: more than a record holds, so its
	// $DATA continues in extension records through an attribute list.
	f, err = os.Create(p("runs.bin"))
	must(err)
	for i := range int64(300) {
		f.WriteAt(noise[:1024], 2048*i)
	}
	f.Close()
	must(os.Link(p("hello.txt"), p("h.txt")))
	must(os.Symlink("hello.txt", p("l")))
	must(os.WriteFile(p("deleted.bin"), noise[:10<<10], 0o644))
	must(os.Remove(p("deleted.bin")))
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(raw)
	w.Close()
	if err := os.WriteFile(smallImage, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func smallText() []byte { return bytes.Repeat([]byte("small but compressible text\n"), 1500) }

func smallNoise() []byte {
	noise := make([]byte, 20<<10)
	for i := range noise {
		noise[i] = byte(i*7919 + i/13)
	}
	return noise
}

// TestSmallImageContent reads back what the generator wrote: a
// compressed file, a sparse one and one whose run list continues in
// extension records through an attribute list.
func TestSmallImageContent(t *testing.T) {
	v := openBytes(t, loadSmall(t))
	noise := smallNoise()
	runs := make([]byte, 299*2048+1024)
	for i := range 300 {
		copy(runs[2048*i:], noise[:1024])
	}
	sparse := make([]byte, 128<<10)
	copy(sparse, noise[:4096])
	copy(sparse[64<<10:], noise[:4096])
	for name, want := range map[string][]byte{"a.bin": noise, "c/c.txt": smallText(), "runs.bin": runs, "sp.bin": sparse, "s.txt:ads": []byte("stream!\n")} {
		if got, err := fs.ReadFile(v, name); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes (%v), want %d as written", name, len(got), err, len(want))
		}
	}
	rec, err := v.record(mustID(t, v, "runs.bin"))
	if err != nil || len(rec.pieces(attrData, "")) < 2 {
		t.Errorf("runs.bin: $DATA in %d pieces (%v); the image should exercise attribute lists", len(rec.pieces(attrData, "")), err)
	}
}

func mustID(t *testing.T, v *FS, name string) int64 {
	t.Helper()
	n, err := v.resolve("test", name, false)
	if err != nil {
		t.Fatal(err)
	}
	return n.id
}

var (
	smallOnce  sync.Once
	smallBytes []byte
	smallErr   error
)

// loadSmall returns the bytes of testdata/small.img.gz; callers copy
// before changing them.
func loadSmall(tb testing.TB) []byte {
	tb.Helper()
	smallOnce.Do(func() {
		f, err := os.Open(smallImage)
		if err != nil {
			smallErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			smallErr = err
			return
		}
		smallBytes, smallErr = io.ReadAll(zr)
	})
	if smallErr != nil {
		tb.Fatal(smallErr)
	}
	return smallBytes
}

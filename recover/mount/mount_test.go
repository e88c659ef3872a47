package mount

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/mount/mounttest"
)

// serveEnv makes the test binary a mount server that never unmounts (see
// TestMain), so a test can kill it and leave a stale mount behind.
const serveEnv = "VMFSRECOVER_MOUNT_TEST_SERVE"

func TestMain(m *testing.M) {
	mounttest.RunIfAsked() // the tests read their mounts from a child
	if dir := os.Getenv(serveEnv); dir != "" {
		if _, err := Mount(dir, fstest.MapFS{"f": {Data: []byte("x")}}, Options{}); err != nil {
			os.Exit(1)
		}
		// Mount has returned, and with it go-fuse's own first requests to
		// the mount: no thread of this process waits on the mount now,
		// so a kill ends it (a thread waiting on a request to its own dead
		// server would keep the process from exiting).
		fmt.Println("mounted")
		select {}
	}
	os.Exit(m.Run())
}

func needFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testenv.Lacks(t, "FUSE unavailable: %v", err)
	}
}

// waitMounted returns once dir is mounted, or fails when ended says the
// server is gone.
func waitMounted(t *testing.T, dir string, ended <-chan error) {
	t.Helper()
	for {
		ok, err := IsMounted(dir)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case err := <-ended:
			t.Fatalf("the server ended before mounting: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func mountForTest(t *testing.T, fsys fs.FS, o Options) *Server {
	t.Helper()
	needFUSE(t)
	srv, err := Mount(t.TempDir(), fsys, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ok, _ := IsMounted(srv.Dir); ok {
			if err := srv.Unmount(); err != nil {
				t.Error(err)
			}
		}
	})
	return srv
}

func TestClearStaleAfterACrash(t *testing.T) {
	needFUSE(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "mounted\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the server did not mount: %q, %v", line, err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	waitMounted(t, dir, ended)
	if stale, err := ClearStale(dir); stale || err != nil {
		t.Fatalf("a live mount taken for stale: %v, %v", stale, err)
	}
	cmd.Process.Kill()
	<-ended
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("statfs of the crashed server's mount: %v, want ENOTCONN", err)
	}
	if stale, err := ClearStale(dir); !stale || err != nil {
		t.Fatalf("ClearStale: %v, %v; want the stale mount cleared", stale, err)
	}
	if ok, _ := IsMounted(dir); ok {
		t.Error("still mounted after ClearStale")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the mountpoint after ClearStale: %v", err)
	}
}

// plainFS hides every method of its files but Read, Stat and Close, as a
// file system whose files cannot be read at an offset.
type plainFS struct{ fstest.MapFS }

func (p plainFS) Open(name string) (fs.File, error) {
	f, err := p.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	return struct{ fs.File }{f}, nil
}

func TestReadsFilesWithoutReaderAt(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprint("direct=", direct), func(t *testing.T) { testReadsFilesWithoutReaderAt(t, direct) })
	}
}

// testReadsFilesWithoutReaderAt reads a file through the page cache or,
// with direct, with direct I/O, and maps it into memory.
func testReadsFilesWithoutReaderAt(t *testing.T, direct bool) {
	data := make([]byte, 3<<20+77)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	o := Options{DirectFrom: -1}
	if direct {
		o.DirectFrom = 1
	}
	srv := mountForTest(t, plainFS{fstest.MapFS{"d/big": {Data: data}}}, o)
	// Backwards, so that each read goes behind the last one.
	var ranges [][2]int64
	for off := int64(len(data)) - 1000; off >= 0; off -= 700000 {
		ranges = append(ranges, [2]int64{off, 100000})
	}
	got := mounttest.ReadRanges(t, filepath.Join(srv.Dir, "d/big"), ranges)
	for i, r := range ranges {
		if !bytes.Equal(got[i], data[r[0]:min(r[0]+r[1], int64(len(data)))]) {
			t.Fatalf("at %d: the bytes differ", r[0])
		}
	}
	if whole := got[len(ranges)]; !bytes.Equal(whole, data) {
		t.Errorf("whole file: %d bytes; want the %d written", len(whole), len(data))
	}
	sum := sha256.Sum256(data)
	if got := mounttest.MappedSHA256(t, filepath.Join(srv.Dir, "d/big")); got != hex.EncodeToString(sum[:]) {
		t.Errorf("the file mapped into memory: sha256 %s, want %x", got, sum)
	}
}

// lostFS gives files that say some of their bytes are lost.
type lostFS struct{ fstest.MapFS }

type lostFile struct{ fs.File }

func (lostFile) Warnings() []string { return []string{"bytes 0-511 lost"} }

func (l lostFS) Open(name string) (fs.File, error) {
	f, err := l.MapFS.Open(name)
	if err != nil || name == "." {
		return f, err
	}
	return lostFile{f}, nil
}

func TestLostBytesAreReportedOncePerFile(t *testing.T) {
	var mu sync.Mutex // Warn runs on the FUSE server's goroutines
	var heard []string
	srv := mountForTest(t, lostFS{fstest.MapFS{"a": {Data: []byte("aaa")}, "b": {Data: []byte("b")}}},
		Options{Warn: func(name string, ws []string) {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, name+": "+ws[0])
		}})
	for _, name := range []string{"a", "a", "b", "a"} {
		mounttest.ReadFile(t, filepath.Join(srv.Dir, name))
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(heard)
	if want := []string{"a: bytes 0-511 lost", "b: bytes 0-511 lost"}; !slices.Equal(heard, want) {
		t.Errorf("warnings heard: %q, want %q", heard, want)
	}
}

func TestUnmountWhileBusy(t *testing.T) {
	srv := mountForTest(t, fstest.MapFS{"f": {Data: []byte("x")}}, Options{})
	held := mounttest.Hold(t, filepath.Join(srv.Dir, "f"))
	if err := srv.Unmount(); !errors.Is(err, ErrBusy) {
		t.Errorf("Unmount with a file open: %v, want ErrBusy", err)
	}
	if b, err := held.Release(); string(b) != "x" || err != nil {
		t.Errorf("the file held open while unmounting: %q, %v", b, err)
	}
	if err := srv.Unmount(); err != nil {
		t.Errorf("Unmount once the file is closed: %v", err)
	}
	if ok, _ := IsMounted(srv.Dir); ok {
		t.Error("still mounted")
	}
}

func TestIsMountedUnescapes(t *testing.T) {
	if got := unescapeOctal(`/tmp/a\040b\134c`); got != `/tmp/a b\c` {
		t.Errorf("unescapeOctal = %q", got)
	}
}

func TestReadAheadRaisedAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Lacks(t, "only root may raise a mount's read-ahead")
	}
	srv := mountForTest(t, fstest.MapFS{"f": {Data: []byte("x")}}, Options{})
	dev, err := deviceOf(srv.Dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/sys/class/bdi/" + dev + "/read_ahead_kb")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != fmt.Sprint(maxRead>>10) {
		t.Errorf("read_ahead_kb = %s, want %d", got, maxRead>>10)
	}
	if bs := mounttest.Walk(t, srv.Dir)[0].Blksize; bs != maxRead {
		t.Errorf("st_blksize = %d, want %d: cat and cp read that much at a time", bs, maxRead)
	}
}

package remote

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// freePort returns a loopback port nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitPort waits until something accepts connections on port.
func waitPort(t testing.TB, port int, cmd *exec.Cmd, exited <-chan struct{}, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", cmd.Path, stderr)
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not start listening on port %d: %s", cmd.Path, port, stderr)
}

// randomImage writes size pseudo-random bytes (with a zero run, so holes
// show up in structured replies) and returns the path and the content.
func randomImage(t testing.TB, size int, seed uint64) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(data[i:], r.Uint64())
	}
	if size > 3<<20 {
		clear(data[1<<20 : 3<<20])
	}
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, data, 0o444); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// nbdServer is a qemu-nbd process exporting one image read-only.
type nbdServer struct {
	t      testing.TB
	port   int
	args   []string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// startQemuNBD exports image (format raw, vmdk, qcow2...) as export name.
func startQemuNBD(t testing.TB, image, format, name string) *nbdServer {
	t.Helper()
	bin, err := exec.LookPath("qemu-nbd")
	if err != nil {
		t.Skip("qemu-nbd not installed (Debian package qemu-utils)")
	}
	s := &nbdServer{t: t, port: freePort(t)}
	s.args = []string{bin, "-r", "-t", "-e", "8", "-f", format, "--bind", "127.0.0.1", "-p", strconv.Itoa(s.port), "--cache=none", "--aio=threads"}
	if name != "" {
		s.args = append(s.args, "-x", name)
	}
	s.args = append(s.args, image)
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *nbdServer) start() {
	s.t.Helper()
	s.stderr = &bytes.Buffer{}
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Stderr = s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan struct{})
	cmd := s.cmd
	go func() { cmd.Wait(); close(exited) }()
	waitPort(s.t, s.port, cmd, exited, s.stderr)
}

// stop kills the server and every connection it serves.
func (s *nbdServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		for i := 0; i < 60; i++ {
			if syscall.Kill(s.cmd.Process.Pid, 0) != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (s *nbdServer) url(name string) string {
	return "nbd://127.0.0.1:" + strconv.Itoa(s.port) + "/" + name
}

// testOptions keep timeouts short so fault tests end quickly.
func testOptions() Options {
	return Options{DialTimeout: 5 * time.Second, IOTimeout: 10 * time.Second, RetryFor: 10 * time.Second}
}

// checkReads compares ReadAt against want: the whole disk sequentially in
// odd-sized pieces, then random reads, some across the end.
func checkReads(t *testing.T, r io.ReaderAt, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	for off, step := 0, 100_003; off < len(want); off += step {
		n := min(step, len(want)-off)
		if _, err := r.ReadAt(got[off:off+n], int64(off)); err != nil && !(err == io.EOF && off+n == len(want)) {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("sequential read differs from the image")
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 60; i++ {
		off := rnd.IntN(len(want))
		n := rnd.IntN(1 << 20)
		buf := make([]byte, n)
		k, err := r.ReadAt(buf, int64(off))
		wantN := min(n, len(want)-off)
		if k != wantN || (err != nil && !(err == io.EOF && off+n > len(want))) || (err == nil && n > wantN) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d", n, off, k, err, wantN)
		}
		if !bytes.Equal(buf[:k], want[off:off+k]) {
			t.Fatalf("ReadAt(%d bytes at %d): data differs", n, off)
		}
	}
	if k, err := r.ReadAt(make([]byte, 10), int64(len(want))); k != 0 || err != io.EOF {
		t.Fatalf("read at the end = %d, %v; want 0, EOF", k, err)
	}
}

// generatedVolume writes a small VMFS volume with the generator.
func generatedVolume(t testing.TB, version int) *vmfstest.Result {
	t.Helper()
	spec := vmfstest.Spec{Version: version, Label: "remote" + strconv.Itoa(version), Partition: "gpt", Files: []vmfstest.Entry{
		{Path: "resident.txt", Data: []byte("hello, resident\n")},
		{Path: "small.bin", Size: 5000, Seed: 1},
		{Path: "multi.bin", Size: 3<<20 + 12345, Seed: 2},
		{Path: "frag.bin", Size: 4<<20 + 1, Seed: 3, Fragmented: true},
		{Path: "vm1/vm1.vmx", Data: []byte("displayName = \"vm1\"\n")},
		{Path: "vm1/deep/file", Size: 70000, Seed: 5},
		{Path: "vm1/link", Kind: vmfstest.Symlink, Target: "vm1.vmx"},
	}}
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "vmfs.img"), spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

// checkVolume finds and opens the VMFS volume on d and compares its
// listing (with SHA-256 of every file) with what the generator wrote.
func checkVolume(t *testing.T, d sizedReaderAt, res *vmfstest.Result) {
	t.Helper()
	cands, _, err := vmfs.Find(d, d.Size(), vmfs.FindOptions{})
	if err != nil || len(cands) != 1 || cands[0].Offset != res.PartitionOffset {
		t.Fatalf("Find = %+v, %v; want one extent at %d", cands, err, res.PartitionOffset)
	}
	vol, err := vmfs.Open([]vmfs.Device{io.NewSectionReader(d, cands[0].Offset, cands[0].Size)}, vmfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := volumeListing(vol)
	if err != nil {
		t.Fatal(err)
	}
	want, err := res.Expected()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("listing over the remote disk differs\n got:\n%s\nwant:\n%s", got, want)
	}
}

func volumeListing(fsys fs.FS) (string, error) {
	var lines []string
	err := listing.Walk(context.Background(), fsys, ".", listing.Options{Recursive: true, Hash: true},
		func(e listing.Entry, err error) error {
			if err != nil {
				return err
			}
			lines = append(lines, e.Expected())
			return nil
		})
	pathOf := func(l string) string { return l[strings.LastIndex(l, " /")+1:] }
	sort.Slice(lines, func(i, j int) bool { return pathOf(lines[i]) < pathOf(lines[j]) })
	return strings.Join(lines, "\n") + "\n", err
}

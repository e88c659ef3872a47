package remote

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
	"golang.org/x/crypto/ssh"
)

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

func startQemuNBD(t testing.TB, image, format, name string) *remotetest.NBD {
	return remotetest.StartQemuNBD(t, image, format, name)
}

// sshdServer wraps the test sshd with the options that log in to it.
type sshdServer struct {
	*remotetest.SSHD
	t testing.TB
}

func startSSHD(t testing.TB, config ...string) *sshdServer {
	return &sshdServer{remotetest.StartSSHD(t, config...), t}
}

// options trusts the server's key and logs in with the user key only.
func (s *sshdServer) options() Options {
	o := testOptions()
	o.KnownHosts = s.KnownHosts(s.HostKey)
	o.Identities = []string{s.Identity}
	o.NoAgent = true
	o.Password = func(string, string) (string, error) { return "", fmt.Errorf("tests use keys") }
	return o
}

// overLink returns the target and options that reach the server through
// a delay proxy adding delay each way. The proxy's port is not the one
// known_hosts names, so the host key is accepted by its fingerprint.
func (s *sshdServer) overLink(delay time.Duration) (Target, Options) {
	o := s.options()
	o.AcceptHostKey = ssh.FingerprintSHA256(s.HostKey)
	tg := s.target()
	tg.Host = fmt.Sprintf("127.0.0.1:%d", remotetest.StartDelayProxy(s.t, s.Addr(), delay))
	return tg, o
}

func (s *sshdServer) target() Target {
	return Target{Scheme: "ssh", User: s.User, Host: s.Addr(), Path: "/"}
}

func (s *sshdServer) dial(t *testing.T, o Options) *FS {
	t.Helper()
	f, err := DialSSH(s.target(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
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

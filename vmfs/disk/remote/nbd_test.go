package remote

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

func TestNBDReadsMatchImage(t *testing.T) {
	img, data := randomImage(t, 9<<20+4608, 1) // qemu-nbd rounds raw exports up to 512 bytes
	srv := startQemuNBD(t, img, "raw", "")
	tg, err := ParseTarget(srv.URL(""))
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenNBD(tg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != int64(len(data)) {
		t.Fatalf("Size = %d, want %d", d.Size(), len(data))
	}
	if !d.Structured() {
		t.Error("qemu-nbd offers structured replies, but they were not negotiated")
	}
	checkReads(t, d, data)
}

// A server without structured replies answers with simple replies; a tiny
// chunk size makes every read span many requests.
func TestNBDConcurrentSmallChunks(t *testing.T) {
	img, data := randomImage(t, 5<<20+512, 2)
	srv := startQemuNBD(t, img, "raw", "disk0")
	tg, _ := ParseTarget(srv.URL("disk0"))
	o := testOptions()
	o.ChunkSize, o.CacheSize, o.ReadAhead = 4096, 64<<10, 4
	d, err := OpenNBD(tg, o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 70001)
			for off := g * 9973; off+len(buf) <= len(data); off += 600_011 {
				if _, err := d.ReadAt(buf, int64(off)); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(buf, data[off:off+len(buf)]) {
					t.Errorf("goroutine %d: data at %d differs", g, off)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestNBDVMDKExport(t *testing.T) {
	testenv.Tool(t, "qemu-img")
	img, data := randomImage(t, 6<<20, 3)
	vmdk := filepath.Join(t.TempDir(), "disk.vmdk")
	if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", img, vmdk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	srv := startQemuNBD(t, vmdk, "vmdk", "")
	tg, _ := ParseTarget(srv.URL(""))
	d, err := OpenNBD(tg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	checkReads(t, d, data)
}

func TestNBDGeneratedVolumes(t *testing.T) {
	for _, v := range []int{5, 6} {
		t.Run("vmfs"+strconv.Itoa(v), func(t *testing.T) {
			res := generatedVolume(t, v)
			srv := startQemuNBD(t, res.Image, "raw", "")
			tg, _ := ParseTarget(srv.URL(""))
			d, err := OpenNBD(tg, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			checkVolume(t, d, res)
		})
	}
}

func TestNBDUnknownExport(t *testing.T) {
	img, _ := randomImage(t, 1<<20, 4)
	srv := startQemuNBD(t, img, "raw", "disk0")
	tg, _ := ParseTarget(srv.URL("nosuch"))
	_, err := OpenNBD(tg, testOptions())
	if !errors.Is(err, ErrExportUnknown) {
		t.Fatalf("err = %v, want ErrExportUnknown", err)
	}
	if !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("error %q does not name the export", err)
	}
}

// The server is killed while reads and read-ahead are in flight, and comes
// back: the scan goes on with the right data.
func TestNBDServerRestartedMidScan(t *testing.T) {
	t.Parallel()
	img, data := randomImage(t, 24<<20, 5)
	srv := startQemuNBD(t, img, "raw", "")
	tg, _ := ParseTarget(srv.URL(""))
	d, err := OpenNBD(tg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	scanThroughRestart(t, d, data, d.Transferred, srv.Stop, srv.Start)
	if _, gen := d.current(); gen == 0 {
		t.Error("no reconnection happened; the test did not test anything")
	}
}

// The server goes away for good: the read fails within RetryFor, naming
// the host and the offset.
func TestNBDServerGone(t *testing.T) {
	t.Parallel()
	img, _ := randomImage(t, 4<<20, 6)
	srv := startQemuNBD(t, img, "raw", "")
	tg, _ := ParseTarget(srv.URL(""))
	o := testOptions()
	o.RetryFor = 1500 * time.Millisecond
	d, err := OpenNBD(tg, o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv.Stop()
	start := time.Now()
	_, err = d.ReadAt(make([]byte, 1000), 3<<20+5)
	if !errors.Is(err, ErrLinkDown) {
		t.Fatalf("err = %v, want ErrLinkDown", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("gave up after %s, RetryFor is %s", el, o.RetryFor)
	}
	for _, want := range []string{"127.0.0.1:" + strconv.Itoa(srv.Port), "offset 3145728"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	checkDownThenBack(t, d, srv.Start, o.RetryFor)
}

// nbdkit is a second server implementation: with structured replies, and
// with --no-sr, where every read is answered with a simple reply.
func TestNBDKit(t *testing.T) {
	img, data := randomImage(t, 6<<20+1537, 15) // nbdkit, unlike qemu-nbd, keeps an odd size
	for _, flags := range [][]string{nil, {"--no-sr"}} {
		srv := remotetest.StartNBDKit(t, img, flags...)
		tg, _ := ParseTarget(srv.URL(""))
		d, err := OpenNBD(tg, testOptions())
		if err != nil {
			t.Fatalf("%v: %v", flags, err)
		}
		if d.Structured() != (flags == nil) {
			t.Errorf("%v: structured replies = %v", flags, d.Structured())
		}
		if d.Size() != int64(len(data)) {
			t.Errorf("%v: size %d, want %d", flags, d.Size(), len(data))
		}
		checkReads(t, d, data)
		d.Close()
	}
}

// An oldstyle server is named as such, not taken for garbage.
func TestNBDKitOldstyleRefused(t *testing.T) {
	img, _ := randomImage(t, 1<<20, 16)
	srv := remotetest.StartNBDKit(t, img, "-o")
	tg, _ := ParseTarget(srv.URL(""))
	if _, err := OpenNBD(tg, testOptions()); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

// sparseImage writes a 64 MiB image with holes around two 1 MiB runs of
// data and returns its path and content.
func sparseImage(t *testing.T) (string, []byte) {
	t.Helper()
	_, rnd := randomImage(t, 2<<20, 11)
	data := make([]byte, 64<<20)
	copy(data[4<<20:], rnd[:1<<20])
	copy(data[40<<20+4096:], rnd[1<<20:])
	path := filepath.Join(t.TempDir(), "sparse.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{4 << 20, 40<<20 + 4096} {
		if _, err := f.WriteAt(data[off:off+1<<20], off); err != nil {
			t.Fatal(err)
		}
	}
	return path, data
}

// A server that knows where its export reads as zeros (base:allocation)
// is not asked for those bytes: a sequential read of a 64 MiB image with
// 2 MiB of data transfers a few MiB, and reads the same bytes. A server
// whose extents say "all data" costs the whole transfer, still correct.
func TestNBDBlockStatusSkipsHoles(t *testing.T) {
	img, data := sparseImage(t)
	servers := map[string]*remotetest.NBD{"qemu-nbd": startQemuNBD(t, img, "raw", "")}
	if _, ok := testenv.LookTool(t, "nbdkit"); ok {
		servers["nbdkit"] = remotetest.StartNBDKit(t, img)
		servers["nbdkit-noextents"] = remotetest.StartNBDKit(t, img, "--filter=noextents")
	}
	for name, srv := range servers {
		t.Run(name, func(t *testing.T) {
			tg, _ := ParseTarget(srv.URL(""))
			d, err := OpenNBD(tg, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if c, _ := d.current(); !c.ex.hasAlloc {
				t.Fatalf("%s offers base:allocation, but it was not negotiated", name)
			}
			buf := make([]byte, 256<<10)
			for off := 0; off < len(data); off += len(buf) {
				if _, err := d.ReadAt(buf, int64(off)); err != nil {
					t.Fatalf("ReadAt(%d): %v", off, err)
				}
				if !bytes.Equal(buf, data[off:off+len(buf)]) {
					t.Fatalf("bytes at %d differ from the image", off)
				}
			}
			got := d.Transferred()
			if name == "nbdkit-noextents" {
				if got < int64(len(data)) {
					t.Errorf("transferred %d bytes with no extents known, want all %d", got, len(data))
				}
				return
			}
			if got > 8<<20 {
				t.Errorf("transferred %d bytes of a 64 MiB image holding 2 MiB of data", got)
			}
		})
	}
}

// The server restarts between two gigabyte windows of a sparse 3 GiB
// image: the window learnt after the reconnection is asked of the new
// connection, its holes are still not transferred, and the bytes are right.
func TestNBDBlockStatusAcrossRestart(t *testing.T) {
	t.Parallel()
	_, rnd := randomImage(t, 4<<20, 13)
	path := filepath.Join(t.TempDir(), "sparse3g.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	far := int64(2<<30 + 1<<20)
	for _, off := range []int64{0, far} {
		if _, err := f.WriteAt(rnd, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	srv := startQemuNBD(t, path, "raw", "")
	tg, _ := ParseTarget(srv.URL(""))
	d, err := OpenNBD(tg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 4<<20)
	zero := make([]byte, len(buf))
	for off := int64(0); off < 3<<30; off += int64(len(buf)) {
		if off == 1<<30 {
			srv.Stop()
			srv.Start()
		}
		if _, err := d.ReadAt(buf, off); err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		want := zero
		if off == 0 {
			want = rnd
		}
		if off == far-1<<20 {
			want = append(append([]byte{}, zero[:1<<20]...), rnd[:3<<20]...)
		}
		if off == far+3<<20 {
			want = append(append([]byte{}, rnd[3<<20:]...), zero[:3<<20]...)
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("bytes at %d differ from the image", off)
		}
	}
	if _, gen := d.current(); gen == 0 {
		t.Error("no reconnection happened; the test did not test anything")
	}
	if got := d.Transferred(); got > 32<<20 {
		t.Errorf("transferred %d bytes of a 3 GiB image holding 8 MiB of data", got)
	}
}

// nbds:// speaks TLS (NBD_OPT_STARTTLS) to a server that requires it,
// checking its certificate: reads and block status work over it; without
// the CA the certificate is refused at once (no retries); nbd:// to that
// server, or nbds:// to a server without TLS, fails with a message saying
// which scheme to use.
func TestNBDTLS(t *testing.T) {
	img, data := sparseImage(t)
	srv, ca := remotetest.StartQemuNBDTLS(t, img)
	url := "nbds://127.0.0.1:" + strconv.Itoa(srv.Port) + "/"
	tg, err := ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.NBDCA = ca
	d, err := OpenNBD(tg, o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if c, _ := d.current(); !c.ex.hasAlloc || !c.ex.structured {
		t.Errorf("over TLS: structured %v, block status %v", c.ex.structured, c.ex.hasAlloc)
	}
	checkReads(t, d, data)

	start := time.Now()
	if _, err := OpenNBD(tg, testOptions()); err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "--nbd-ca") {
		t.Errorf("unknown CA: err = %v, want a certificate error", err)
	} else if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a refused certificate took %v: retried as a dropped link", el)
	}
	plainTg, _ := ParseTarget(strings.Replace(url, "nbds://", "nbd://", 1))
	if _, err := OpenNBD(plainTg, testOptions()); err == nil || !strings.Contains(err.Error(), "nbds://") {
		t.Errorf("nbd:// to a TLS server: err = %v, want advice to use nbds://", err)
	}
	plain := startQemuNBD(t, img, "raw", "")
	tlsTg, _ := ParseTarget("nbds://127.0.0.1:" + strconv.Itoa(plain.Port) + "/")
	if _, err := OpenNBD(tlsTg, o); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "does not offer TLS") {
		t.Errorf("nbds:// to a server without TLS: err = %v", err)
	}
}

// Closing a disk while reads are in flight (structured replies of several
// chunks, data and holes) fails them once: no request is completed both by
// the reply reader and by the close (that was a double close, a panic).
func TestNBDCloseDuringReads(t *testing.T) {
	// 64 KiB of data every 128 KiB: each 1 MiB read is answered in 16
	// data and 16 hole chunks.
	_, rnd := randomImage(t, 64<<10, 14)
	img := filepath.Join(t.TempDir(), "striped.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < 16<<20; off += 128 << 10 {
		f.WriteAt(rnd, off)
	}
	f.Truncate(16 << 20)
	f.Close()
	srv := startQemuNBD(t, img, "raw", "")
	tg, _ := ParseTarget(srv.URL(""))
	for round := 0; round < 20; round++ {
		d, err := OpenNBD(tg, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 1<<20)
				for i := 0; i < 16; i++ {
					if _, err := d.ReadAt(buf, int64((g*5+i*3)%15)<<20); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		d.Close()
		wg.Wait()
	}
}

package remote

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

var benchPacket = flag.Int("remote.sftppacket", 0, "SFTP packet size of BenchmarkSequentialRead")
var benchChunk = flag.Int("remote.chunk", 0, "cache chunk size of BenchmarkSequentialRead")
var benchAhead = flag.Int("remote.ahead", 0, "read-ahead chunks of BenchmarkSequentialRead")
var benchSize = flag.Int64("remote.benchsize", 512<<20, "image size of BenchmarkSequentialRead")

// benchImage writes a pseudo-random image (no zero runs: NBD would send
// holes and flatter itself).
func benchImage(b *testing.B, size int64) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.img")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 1<<20)
	for done := int64(0); done < size; done += int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), size-done)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// readAll reads r sequentially in 1 MiB pieces, as a scan or an export
// does, optionally hashing what it reads (the work an export's verify
// does per byte).
func readAll(b *testing.B, r io.ReaderAt, size int64, hash bool) time.Duration {
	start := time.Now()
	buf := make([]byte, 1<<20)
	h := sha256.New()
	for off := int64(0); off < size; off += int64(len(buf)) {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && err != io.EOF {
			b.Fatal(err)
		}
		if hash {
			h.Write(buf[:n])
		}
	}
	return time.Since(start)
}

// BenchmarkSequentialRead reads one image from the local file, over
// loopback NBD (qemu-nbd) and over loopback SFTP (sshd), in the same run,
// and reports each throughput and the remote/local ratios.
func BenchmarkSequentialRead(b *testing.B) {
	size := *benchSize
	img := benchImage(b, size)
	nbdSrv := startQemuNBD(b, img, "raw", "")
	sshSrv := startSSHD(b)

	local, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	tg, _ := ParseTarget(nbdSrv.URL(""))
	o := sshSrv.options()
	o.SFTPPacket, o.ChunkSize, o.ReadAhead = *benchPacket, *benchChunk, *benchAhead
	nd, err := OpenNBD(tg, o)
	if err != nil {
		b.Fatal(err)
	}
	defer nd.Close()
	sfs, err := DialSSH(sshSrv.target(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer sfs.Close()
	sf, err := sfs.Open(fsName(img))
	if err != nil {
		b.Fatal(err)
	}
	defer sf.Close()
	sra := sf.(io.ReaderAt)

	for _, hash := range []bool{false, true} {
		name := "read"
		if hash {
			name = "read+sha256"
		}
		b.Run(name, func(b *testing.B) {
			readAll(b, local, size, hash) // warm the page cache for all three
			var tl, tn, ts time.Duration
			b.SetBytes(3 * size)
			for b.Loop() {
				tl += readAll(b, local, size, hash)
				tn += readAll(b, nd, size, hash)
				ts += readAll(b, sra, size, hash)
			}
			mbs := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
			b.ReportMetric(mbs(tl), "local-MB/s")
			b.ReportMetric(mbs(tn), "nbd-MB/s")
			b.ReportMetric(mbs(ts), "sftp-MB/s")
			b.ReportMetric(tl.Seconds()/tn.Seconds(), "nbd/local")
			b.ReportMetric(tl.Seconds()/ts.Seconds(), "sftp/local")
		})
	}
}

// BenchmarkLongLink reads one image sequentially over a link with a 50 ms
// round trip (a delay proxy on loopback; bandwidth unlimited) with the
// defaults and with the settings of before: one SFTP session (one 2 MiB
// SSH window per round trip) and 8 MiB of NBD read-ahead. Over such a link
// the window in flight, not the bandwidth, bounds throughput.
func BenchmarkLongLink(b *testing.B) {
	size := int64(256 << 20)
	img := benchImage(b, size)
	sshSrv := startSSHD(b)
	nbdSrv := startQemuNBD(b, img, "raw", "")
	const delay = 25 * time.Millisecond
	sshTg, sshOpts := sshSrv.overLink(delay)
	nbdPort := remotetest.StartDelayProxy(b, fmt.Sprintf("127.0.0.1:%d", nbdSrv.Port), delay)
	sftpRead := func(sessions, ahead int) time.Duration {
		o := sshOpts
		o.SFTPSessions, o.ReadAhead = sessions, ahead
		f, err := DialSSH(sshTg, o)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		file, err := f.Open(fsName(img))
		if err != nil {
			b.Fatal(err)
		}
		return readAll(b, file.(io.ReaderAt), size, false)
	}
	nbdRead := func(ahead int) time.Duration {
		tg, _ := ParseTarget(fmt.Sprintf("nbd://127.0.0.1:%d/", nbdPort))
		o := testOptions()
		o.ReadAhead = ahead
		d, err := OpenNBD(tg, o)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		return readAll(b, d, size, false)
	}
	var sftpNow, sftpBefore, nbdNow, nbdBefore time.Duration
	b.SetBytes(4 * size)
	for b.Loop() {
		sftpNow += sftpRead(0, 0)
		sftpBefore += sftpRead(1, 64)
		nbdNow += nbdRead(0)
		nbdBefore += nbdRead(64)
	}
	mbs := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(sftpNow), "sftp-MB/s")
	b.ReportMetric(mbs(sftpBefore), "sftp-1session-MB/s")
	b.ReportMetric(mbs(nbdNow), "nbd-MB/s")
	b.ReportMetric(mbs(nbdBefore), "nbd-8MiB-MB/s")
}

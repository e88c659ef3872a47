package export

import (
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// The benchmarks compare the exporter with the peer tool on the same bytes
// in the same run and report the throughput ratio (x-cp, x-curl; 1.0 means
// as fast). EXPORT_BENCH_MB sets the file size (default 256; the issue's
// figure is 2048). testdata/bench.sh runs both at 2 GiB.

func benchSize(b *testing.B) int64 {
	mb := int64(256)
	if s := os.Getenv("EXPORT_BENCH_MB"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			b.Fatalf("EXPORT_BENCH_MB=%q", s)
		}
		mb = v
	}
	return mb << 20
}

// benchVolume writes a generated VMFS6 volume holding one file of
// pseudo-random bytes (no holes: the exporter gets no free ride) and the
// same bytes as a plain file for the peer tool.
func benchVolume(b *testing.B, size int64) (img, plain string) {
	dir := b.TempDir()
	img = filepath.Join(dir, "ds.img")
	if _, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "bench", Files: []vmfstest.Entry{
		{Path: "vm/disk-flat.vmdk", Size: size, Seed: 42},
	}}); err != nil {
		b.Fatal(err)
	}
	srcs, err := source.ForDiscover([]string{img}, source.Options{})
	if err != nil {
		b.Fatal(err)
	}
	vol, s, err := discover.OpenVolume(srcs, "", discover.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f, err := vol.Open("vm/disk-flat.vmdk")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	plain = filepath.Join(dir, "disk-flat.vmdk")
	out, err := os.Create(plain)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, f); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return img, plain
}

// openBenchVolume opens the generated volume once: finding and opening a
// volume is not what the benchmark measures.
func openBenchVolume(b *testing.B, img string) fs.FS {
	srcs, err := source.ForDiscover([]string{img}, source.Options{})
	if err != nil {
		b.Fatal(err)
	}
	vol, s, err := discover.OpenVolume(srcs, "", discover.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return vol
}

func exportOnce(b *testing.B, vol fs.FS, dst Destination) {
	rep, err := Export(context.Background(), vol, []string{"vm"}, dst, Options{})
	if err != nil || rep.Exported != 1 {
		b.Fatalf("export: %v %+v", err, rep)
	}
}

func timeIt(f func()) time.Duration {
	t := time.Now()
	f()
	return time.Since(t)
}

// BenchmarkLocalExportVsCp: export of a file of a generated volume to a
// local directory (sha256 and manifest included, fsync off as cp's is)
// against cp of the same bytes from a plain file.
func BenchmarkLocalExportVsCp(b *testing.B) {
	testenv.Tool(b, "cp")
	size := benchSize(b)
	img, plain := benchVolume(b, size)
	vol := openBenchVolume(b, img)
	out := b.TempDir()
	var tExport, tCp time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.RemoveAll(filepath.Join(out, "x"))
		os.RemoveAll(filepath.Join(out, "cp"))
		os.MkdirAll(filepath.Join(out, "cp"), 0o755)
		b.StartTimer()
		tExport += timeIt(func() {
			d, err := NewLocal(filepath.Join(out, "x"))
			if err != nil {
				b.Fatal(err)
			}
			d.NoSync = true
			exportOnce(b, vol, d)
		})
		b.StopTimer()
		tCp += timeIt(func() {
			if o, err := exec.Command("cp", plain, filepath.Join(out, "cp")).CombinedOutput(); err != nil {
				b.Fatalf("cp: %v %s", err, o)
			}
		})
		b.StartTimer()
	}
	b.StopTimer()
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/tExport.Seconds(), "export-MB/s")
	b.ReportMetric(mb/tCp.Seconds(), "cp-MB/s")
	b.ReportMetric(tCp.Seconds()/tExport.Seconds(), "x-cp")
	b.ReportMetric(sha256Rate(), "sha256-MB/s")
}

// sha256Rate measures this machine's sha256 throughput on one core, now:
// the ceiling of any export, which hashes every byte it copies. Without
// SHA-NI it is a few hundred MB/s, below what cp reaches.
func sha256Rate() float64 {
	buf := randBytes(1, chunkSize)
	h := sha256.New()
	t := time.Now()
	for range 256 {
		h.Write(buf)
	}
	return 256 * float64(chunkSize) / 1e6 / time.Since(t).Seconds()
}

// BenchmarkFTPExportVsCurl: upload to vsftpd on loopback against curl -T
// of the same bytes to the same server.
func BenchmarkFTPExportVsCurl(b *testing.B) {
	testenv.Tool(b, "curl")
	size := benchSize(b)
	img, plain := benchVolume(b, size)
	vol := openBenchVolume(b, img)
	v := startVsftpd(b, vsftpdOpts{})
	var tExport, tCurl time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.RemoveAll(filepath.Join(v.pub, "vm"))
		os.Remove(filepath.Join(v.pub, ManifestName))
		os.Remove(filepath.Join(v.pub, "curl.bin"))
		b.StartTimer()
		tExport += timeIt(func() {
			d, err := ParseFTPURL("ftp://" + v.addr + "/pub")
			if err != nil {
				b.Fatal(err)
			}
			exportOnce(b, vol, d)
		})
		b.StopTimer()
		tCurl += timeIt(func() {
			if o, err := exec.Command("curl", "-sS", "-T", plain, "ftp://"+v.addr+"/pub/curl.bin").CombinedOutput(); err != nil {
				b.Fatalf("curl: %v %s", err, o)
			}
		})
		b.StartTimer()
	}
	b.StopTimer()
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/tExport.Seconds(), "export-MB/s")
	b.ReportMetric(mb/tCurl.Seconds(), "curl-MB/s")
	b.ReportMetric(tCurl.Seconds()/tExport.Seconds(), "x-curl")
	b.ReportMetric(sha256Rate(), "sha256-MB/s")
}

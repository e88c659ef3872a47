package deepscan

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// BenchmarkDeepScanVsCat scans a page-cached 512 MiB image and, in the
// same run, times `cat IMAGE > /dev/null` on it: the issue asks for at
// least 0.8x of cat's throughput. Metrics: scan and cat MB/s, x-cat =
// scan throughput / cat throughput (wall clock), and x-cat-cpu = cat's CPU
// time / the scan's for the same bytes.
func BenchmarkDeepScanVsCat(b *testing.B) {
	catPath := testenv.Tool(b, "cat")
	const size = 512 << 20
	path := filepath.Join(b.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	for off := 0; off < size; off += len(buf) {
		for i := 0; i < len(buf); i += 8 {
			v := rng.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		f.Write(buf)
	}
	f.Close()
	in, _ := os.Open(path)
	defer in.Close()
	io.Copy(io.Discard, in) // into the page cache

	var scanTime, catTime, scanCPU, catCPU time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		start := time.Now()
		cmd := exec.Command(catPath, path)
		cmd.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		catTime += time.Since(start)
		catCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU()
		if err := Scan(context.Background(), in, New("bench", "bench", size), Options{}); err != nil {
			b.Fatal(err)
		}
		scanTime += time.Since(start)
		scanCPU += processCPU() - cpu0
	}
	mb := float64(size) * float64(b.N) / (1 << 20)
	b.ReportMetric(mb/scanTime.Seconds(), "scan-MB/s")
	b.ReportMetric(mb/catTime.Seconds(), "cat-MB/s")
	b.ReportMetric(catTime.Seconds()/scanTime.Seconds(), "x-cat")
	// CPU time is what a busy shared machine measures best: with the data
	// in the page cache both are CPU-bound, so the throughput ratio on an
	// idle machine is the inverse ratio of CPU time per byte.
	b.ReportMetric(catCPU.Seconds()/scanCPU.Seconds(), "x-cat-cpu")
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

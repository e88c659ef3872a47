package vmdk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// benchDir caches the 1 GiB benchmark disks between runs (git-ignored).
var benchDir = filepath.Join("..", "testdata", "generated", "bench")

const benchSize = 1 << 30

var benchOnce sync.Once

// benchFixture returns the path of the 1 GiB pattern disk converted by
// qemu-img to subformat, making it on first use.
func benchFixture(b *testing.B, sub string) string {
	testenv.Tool(b, "qemu-img")
	raw := filepath.Join(benchDir, "pattern-1g.raw")
	benchOnce.Do(func() {
		if _, err := os.Stat(raw); err == nil {
			return
		}
		os.MkdirAll(benchDir, 0o755)
		if err := os.WriteFile(raw+".tmp", vmdktest.Pattern(benchSize, 1), 0o644); err != nil {
			b.Fatal(err)
		}
		os.Rename(raw+".tmp", raw)
	})
	p := filepath.Join(benchDir, sub+"-1g.vmdk")
	if _, err := os.Stat(p); err != nil {
		run(b, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+sub, raw, p+".tmp.vmdk")
		os.Rename(p+".tmp.vmdk", p)
	}
	return p
}

// discard is an io.WriterAt that drops everything.
type discard struct{}

func (discard) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }

// readAll reads every allocated byte of the disk, as dump does, and
// discards it: the same work as qemu-img convert to the null-co driver.
func readAll(b *testing.B, path string) {
	d, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	m, err := d.AllocationMap()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := CopySparse(context.Background(), discard{}, d, m, nil); err != nil {
		b.Fatal(err)
	}
}

// sinkDir holds the raw outputs of the file-sink comparison: tmpfs when
// there is one, so that the disk under the test does not dominate.
func sinkDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "vmdkbench")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// dumpTo writes the whole disk as a raw file, as vmfsrecover dump does.
func dumpTo(b *testing.B, path, out string) {
	d, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	m, err := d.AllocationMap()
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := CopySparse(context.Background(), f, d, m, nil); err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(d.Size()); err != nil {
		b.Fatal(err)
	}
}

// cpuSeconds is the user+system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// qemuCPU runs qemu-img and returns its user+system CPU seconds.
func qemuCPU(b *testing.B, args ...string) float64 {
	cmd := exec.Command("qemu-img", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

func median3(f func()) float64 {
	var runs []float64
	for i := 0; i < 3; i++ {
		start := time.Now()
		f()
		runs = append(runs, time.Since(start).Seconds())
	}
	sort.Float64s(runs)
	return runs[1]
}

// benchVsQemu times reading the whole disk (b.N times, the benchmark's own
// measure: read and discard), then, in the same run, qemu-img convert into
// its null-co driver (read and discard) and, both ways, a conversion to a
// raw file (median of three each). It reports MB/s of the virtual size and
// the ratios to qemu-img.
func benchVsQemu(b *testing.B, sub string) {
	p := benchFixture(b, sub)
	readAll(b, p) // warm the page cache, as qemu gets it warm too
	b.SetBytes(benchSize)
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		readAll(b, p)
	}
	b.StopTimer()
	ours := b.Elapsed().Seconds() / float64(b.N)
	oursCPU := (cpuSeconds() - cpu0) / float64(b.N)
	// CPU time says what wall time cannot on a shared machine: how much work
	// each reader spends per disk.
	qCPU := qemuCPU(b, "convert", "-n", "-f", "vmdk", p, "--target-image-opts", "driver=null-co,size="+strconv.Itoa(benchSize))
	b.ReportMetric(qCPU/oursCPU, "cpu-x-qemu")
	b.Logf("%s CPU time per read: vmfsrecover %.3f s, qemu-img %.3f s (%.2fx less work)", sub, oursCPU, qCPU, qCPU/oursCPU)
	qNull := median3(func() {
		run(b, "qemu-img", "convert", "-n", "-f", "vmdk", p, "--target-image-opts", "driver=null-co,size="+strconv.Itoa(benchSize))
	})
	dir := sinkDir(b)
	oursRaw := median3(func() { dumpTo(b, p, filepath.Join(dir, "ours.raw")); os.Remove(filepath.Join(dir, "ours.raw")) })
	qRaw := median3(func() {
		run(b, "qemu-img", "convert", "-f", "vmdk", "-O", "raw", p, filepath.Join(dir, "qemu.raw"))
		os.Remove(filepath.Join(dir, "qemu.raw"))
	})
	mb := func(s float64) float64 { return float64(benchSize) / s / 1e6 }
	b.ReportMetric(mb(ours), "MB/s")
	b.ReportMetric(mb(qNull), "qemu-MB/s")
	b.ReportMetric(qNull/ours, "x-qemu")
	b.ReportMetric(qRaw/oursRaw, "x-qemu-raw")
	b.Logf("%s read+discard: vmfsrecover %.3f s (%.0f MB/s), qemu-img null-co %.3f s (%.0f MB/s): %.2fx", sub, ours, mb(ours), qNull, mb(qNull), qNull/ours)
	b.Logf("%s to a raw file: vmfsrecover dump %.3f s (%.0f MB/s), qemu-img convert -O raw %.3f s (%.0f MB/s): %.2fx", sub, oursRaw, mb(oursRaw), qRaw, mb(qRaw), qRaw/oursRaw)
}

// BenchmarkMonolithicSparse1G: target >= 1.0x qemu-img.
func BenchmarkMonolithicSparse1G(b *testing.B) { benchVsQemu(b, "monolithicSparse") }

// BenchmarkStreamOptimized1G: target >= 1.5x qemu-img (grains inflate in parallel).
func BenchmarkStreamOptimized1G(b *testing.B) { benchVsQemu(b, "streamOptimized") }

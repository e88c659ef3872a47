package vmdk

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// benchDir caches the 1 GiB benchmark disks between runs (git-ignored).
var benchDir = filepath.Join("..", "testdata", "generated", "bench")

const benchSize = 1 << 30

var benchOnce sync.Once

// benchFixture returns the path of the 1 GiB pattern disk converted by
// qemu-img to subformat, making it on first use.
func benchFixture(b *testing.B, sub string) string {
	needTool(b, "qemu-img")
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

// qemuSeconds times qemu-img convert of path into qemu's null-co driver
// (read and discard), median of three runs.
func qemuSeconds(b *testing.B, path string) float64 {
	var runs []float64
	for i := 0; i < 3; i++ {
		start := time.Now()
		run(b, "qemu-img", "convert", "-n", "-f", "vmdk", path, "--target-image-opts", "driver=null-co,size="+strconv.Itoa(benchSize))
		runs = append(runs, time.Since(start).Seconds())
	}
	sort.Float64s(runs)
	return runs[1]
}

func benchVsQemu(b *testing.B, sub string) {
	p := benchFixture(b, sub)
	readAll(b, p) // warm the page cache, as qemu gets it warm too
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		readAll(b, p)
	}
	b.StopTimer()
	ours := b.Elapsed().Seconds() / float64(b.N)
	q := qemuSeconds(b, p)
	b.ReportMetric(float64(benchSize)/ours/1e6, "MB/s")
	b.ReportMetric(float64(benchSize)/q/1e6, "qemu-MB/s")
	b.ReportMetric(q/ours, "x-qemu")
	b.Logf("%s: vmfsrecover %.3f s, qemu-img %.3f s: %.2fx qemu-img's throughput", sub, ours, q, q/ours)
}

// BenchmarkMonolithicSparse1G: target >= 1.0x qemu-img.
func BenchmarkMonolithicSparse1G(b *testing.B) { benchVsQemu(b, "monolithicSparse") }

// BenchmarkStreamOptimized1G: target >= 1.5x qemu-img (grains inflate in parallel).
func BenchmarkStreamOptimized1G(b *testing.B) { benchVsQemu(b, "streamOptimized") }

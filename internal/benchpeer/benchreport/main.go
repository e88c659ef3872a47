// Command benchreport reads the output of the side-by-side benchmarks
// (go test -bench, any -count) on standard input and prints issue 14's
// table, with issue 17's degraded RAID reads: each work, our rate, the
// peer's, the median ratio of the paired runs (wall and CPU time), our
// peak memory, the target, and whether the median meets it. `make
// bench-report` runs it.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// row is one line of the table: the benchmark that measures a work, the
// ratio metric that the target applies to, and the target.
type row struct {
	work, bench, peer string
	ratio             string // metric name, as the benchmark reports it
	target            float64
	strict            bool // the ratio must exceed target, not only reach it
}

var rows = []row{
	{"cat 2 GiB, VMFS5 pointer blocks", "BenchmarkCatVsDd", "dd bs=1M", "x-dd", 0.95, false},
	{"cat 2 GiB into a pipe, read by dd", "BenchmarkCatVsDdPipe", "dd bs=1M into the same pipe", "x-dd", 0.95, false},
	{"cat 2 GiB, VMFS5 pointer blocks", "BenchmarkCatVsDebugvmfs", "debugvmfs cat", "x-debugvmfs", 1, true},
	{"local export (fsync)", "BenchmarkLocalExportVsCp", "cp + sync", "x-cp-sync", 0, false},
	{"local export (fsync)", "BenchmarkLocalExportVsCp", "slower of cp+sync, SHA-256", "x-ceiling", 0.9, false},
	{"local export (fsync)", "BenchmarkLocalExportVsCp", "dd bs=1M + sync (a copy through user space)", "x-dd-sync", 0, false},
	{"FTP export, vsftpd loopback", "BenchmarkFTPExportVsCurl", "curl -T", "x-curl", 0.9, false},
	{"FTP export, vsftpd loopback", "BenchmarkFTPExportVsCurl", "curl -T beside SHA-256 of the file (ceiling)", "x-ceiling", 0, false},
	{"dump 2 GiB monolithicSparse (qemu)", "BenchmarkDumpVsQemuImg/monolithicSparse", "qemu-img convert -O raw", "x-qemu-img", 2, false},
	{"dump 2 GiB streamOptimized (qemu)", "BenchmarkDumpVsQemuImg/streamOptimized", "qemu-img convert -O raw", "x-qemu-img", 2, false},
	{"dump 2 GiB streamOptimized (open-vmdk)", "BenchmarkDumpVsQemuImg/vmdkstream", "qemu-img convert -O raw", "x-qemu-img", 2, false},
	{"deep scan, dense", "BenchmarkDeepScanVsCat/dense", "cat", "x-cat", 0.95, false},
	{"deep scan, sparse", "BenchmarkDeepScanVsCat/sparse", "cat", "x-cat", 1, true},
	{"ls -r -l, 100,000 files VMFS5", "BenchmarkLsVsVmfsFuse", "vmfs-fuse + find -ls", "x-vmfs-fuse", 10, false},
	{"cat 256 MiB through mount (VMFS6)", "BenchmarkMountCat", "vmfsrecover cat, in process", "x-vmfsrecover-cat", 0.8, false},
	{"cat 256 MiB through mount (VMFS6)", "BenchmarkMountCat", "FUSE ceiling: plain file, same server", "x-ceiling", 0, false},
	{"FUSE ceiling: cat 256 MiB plain file", "BenchmarkMountCeiling", "vmfsrecover cat, in process", "x-vmfsrecover-cat", 0, false},
	{"read RAID 5 short of 1 member", "BenchmarkRead/raid5-missing1", "one image, same bytes", "x-single", 0.8, false},
	{"read RAID 6 short of 2 members", "BenchmarkRead/raid6-missing2", "one image, same bytes", "x-single", 0.8, false},
}

func main() {
	runs := parse(os.Stdin)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "work\tpeer\tours\tpeer's\tratio\trange\tcpu ratio\tours RSS\ttarget\truns\tmet")
	for _, r := range rows {
		m := runs[r.bench]
		if len(m[r.ratio]) == 0 {
			fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t-\t-\t%s\t0\tnot run\n", r.work, r.peer, target(r))
			continue
		}
		ratio := median(m[r.ratio])
		met := "yes"
		if r.target > 0 && (ratio < r.target || (r.strict && ratio == r.target)) {
			met = "NO"
		} else if r.target == 0 {
			met = "-"
		}
		// The range of the runs' ratios: a target met "every run" needs
		// its low end at the target too.
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2fx\t%.2f-%.2f\t%s\t%s\t%s\t%d\t%s\n", r.work, r.peer,
			rate(m, "ours"), rate(m, peerKey(r.ratio)), ratio, slices.Min(m[r.ratio]), slices.Max(m[r.ratio]), optional(m, "cpu-"+r.ratio, "%.2fx"),
			optional(m, "ours-RSS-MiB", "%.0f MiB"), target(r), len(m[r.ratio]), met)
	}
	w.Flush()
	if sha := runs.any("sha256-MB/s"); len(sha) > 0 {
		ni := "without"
		if median(runs.any("sha-ni")) == 1 {
			ni = "with"
		}
		fmt.Printf("\nSHA-256 on one core: %.0f MB/s (CPU %s SHA instructions), the ceiling of any export.\n", median(sha), ni)
	}
}

// peerKey is the name a benchmark gives the peer in its MB/s metric:
// x-dd -> dd, x-ceiling -> ceiling.
func peerKey(ratio string) string { return strings.TrimPrefix(ratio, "x-") }

func target(r row) string {
	switch {
	case r.target == 0:
		return "-"
	case r.strict:
		return fmt.Sprintf("> %.2fx", r.target)
	}
	return fmt.Sprintf(">= %.2fx", r.target)
}

// rate is the median of who's MB/s, or of who's seconds for work that
// moves no bytes.
func rate(m metrics, who string) string {
	if v := m[who+"-MB/s"]; len(v) > 0 {
		return fmt.Sprintf("%.0f MB/s", median(v))
	}
	if v := m[who+"-s"]; len(v) > 0 {
		return fmt.Sprintf("%.2f s", median(v))
	}
	if v := m["MB/s"]; who == "ours" && len(v) > 0 {
		return fmt.Sprintf("%.0f MB/s", median(v))
	}
	if v := m["qemu-MB/s"]; who != "ours" && len(v) > 0 {
		return fmt.Sprintf("%.0f MB/s", median(v))
	}
	return "-"
}

func optional(m metrics, name, format string) string {
	if v := m[name]; len(v) > 0 {
		return fmt.Sprintf(format, median(v))
	}
	return "-"
}

// metrics are one benchmark's reported values by unit, one per run.
type metrics map[string][]float64

type results map[string]metrics

// any returns the values of a metric over every benchmark.
func (rs results) any(unit string) []float64 {
	var out []float64
	for _, m := range rs {
		out = append(out, m[unit]...)
	}
	return out
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// parse reads go test -bench output: "BenchmarkX-2  5  123 ns/op  1.5 x-dd ...".
func parse(r io.Reader) results {
	rs := results{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		if rs[m[1]] == nil {
			rs[m[1]] = metrics{}
		}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				rs[m[1]][f[i+1]] = append(rs[m[1]][f[i+1]], v)
			}
		}
	}
	return rs
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

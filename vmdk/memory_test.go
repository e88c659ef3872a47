package vmdk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// TestDumpMemoryFlat dumps a 100 GiB monolithicSparse disk (mostly holes,
// 24 MiB of data spread over it) in a child process and checks its peak
// resident memory (VmHWM) stays under 64 MiB, and that the output holds the
// data and is sparse.
func TestDumpMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if raceEnabled {
		t.Skip("the race detector inflates resident memory; run without -race (make bench does)")
	}
	hwm := dumpPeakRSS(t)
	t.Logf("peak resident memory dumping 100 GiB: %d KiB", hwm)
	if hwm > 64<<10 {
		t.Errorf("peak resident memory %d KiB exceeds 64 MiB", hwm)
	}
}

// BenchmarkDump100GSparseMemory reports the peak resident memory of a
// dump of a 100 GiB sparse disk (target: under 64 MiB).
func BenchmarkDump100GSparseMemory(b *testing.B) {
	var hwm int64
	for i := 0; i < b.N; i++ {
		hwm = dumpPeakRSS(b)
	}
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
	if hwm > 64<<10 {
		b.Errorf("peak resident memory %d KiB exceeds 64 MiB", hwm)
	}
}

// dumpPeakRSS builds the 100 GiB disk, dumps it in a child process and
// returns the child's VmHWM in KiB, after checking the output.
func dumpPeakRSS(t testing.TB) int64 {
	testenv.Tool(t, "qemu-img")
	testenv.Tool(t, "qemu-io")
	dir := t.TempDir()
	src := filepath.Join(dir, "big.vmdk")
	run(t, "qemu-img", "create", "-q", "-f", "vmdk", src, "100G")
	var cmds []string
	for i := 0; i < 24; i++ {
		off := int64(i) * (100 << 30) / 24
		cmds = append(cmds, "-c", fmt.Sprintf("write -P %d %d 1M", i+1, off))
	}
	run(t, "qemu-io", append([]string{"-f", "vmdk"}, append(cmds, src)...)...)
	dst := filepath.Join(dir, "big.raw")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDumpMemoryChild$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "VMDK_DUMP_SRC="+src, "VMDK_DUMP_DST="+dst)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var hwm int64 = -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM-kB="); ok {
			hwm, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if hwm < 0 {
		t.Fatalf("child printed no VmHWM:\n%s", out)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if fi.Size() != 100<<30 {
		t.Errorf("output size %d", fi.Size())
	}
	for i := 0; i < 24; i++ {
		off := int64(i) * (100 << 30) / 24
		b := make([]byte, 4)
		f.ReadAt(b, off+(1<<20)-4)
		if !bytes.Equal(b, bytes.Repeat([]byte{byte(i + 1)}, 4)) {
			t.Errorf("chunk %d at %d: % x", i, off, b)
		}
	}
	return hwm
}

// TestDumpMemoryChild is the child half of TestDumpMemoryFlat.
func TestDumpMemoryChild(t *testing.T) {
	src, dst := os.Getenv("VMDK_DUMP_SRC"), os.Getenv("VMDK_DUMP_DST")
	if src == "" {
		t.Skip("only run as the child of TestDumpMemoryFlat")
	}
	d, err := Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := d.AllocationMap()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CopySparse(context.Background(), out, d, m, nil); err != nil {
		t.Fatal(err)
	}
	if err := out.Truncate(d.Size()); err != nil {
		t.Fatal(err)
	}
	out.Close()
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			fmt.Printf("VmHWM-kB=%s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}

package benchpeer

import (
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
)

// Result is what one run cost: wall time, CPU time (user + system) and,
// for a child process, its peak resident memory.
type Result struct {
	Wall, CPU time.Duration
	MaxRSS    int64 // bytes; 0 when unknown (work done in this process)
}

// Pairs holds the costs of our work and the peer's, Runs pairs per
// iteration of a benchmark.
type Pairs struct {
	Peer string // the peer's name in metrics: x-PEER, PEER-MB/s
	// Before, when set, runs before each side of a pair, untimed: to give
	// both the same start (RecycleMemory for work that writes).
	Before func()
	// Runs is how many pairs RunResults runs (0: one). make bench-report
	// runs each benchmark for one iteration (-benchtime 1x); work whose
	// pair takes less than a second needs several per iteration for the
	// median to be of more than the host's noise of the moment.
	Runs        int
	ours, peers []Result
}

// AddResults records one iteration.
func (p *Pairs) AddResults(ours, peer Result) {
	p.ours = append(p.ours, ours)
	p.peers = append(p.peers, peer)
}

// Add records one iteration's wall times.
func (p *Pairs) Add(ours, peer time.Duration) {
	p.AddResults(Result{Wall: ours}, Result{Wall: peer})
}

// LastResults returns the latest pair recorded.
func (p *Pairs) LastResults() (ours, peer Result) {
	return p.ours[len(p.ours)-1], p.peers[len(p.peers)-1]
}

// pairsRun counts the pairs RunResults has run in this process.
var pairsRun atomic.Int64

// Last returns the wall times of the latest pair recorded.
func (p *Pairs) Last() (ours, peer time.Duration) {
	o, q := p.LastResults()
	return o.Wall, q.Wall
}

// RunResults runs ours and peer once each (Runs times) and records each
// pair. Every other pair in the process runs the peer first, so that
// neither side always inherits the other's leftovers (dirty pages being
// written back, a cold cache): counted over all Pairs, because make
// bench-report runs each benchmark once per -count, with a new Pairs
// each time.
func (p *Pairs) RunResults(ours, peer func() Result) {
	run := func(side func() Result) Result {
		if p.Before != nil {
			p.Before()
		}
		return side()
	}
	for range max(p.Runs, 1) {
		var o, q Result
		if pairsRun.Add(1)%2 == 1 {
			o, q = run(ours), run(peer)
		} else {
			q, o = run(peer), run(ours)
		}
		p.AddResults(o, q)
	}
}

// Run is RunResults for work done in this process (ours) and a peer that
// returns the CPU time it used (Cmd's), or 0 when unknown.
func (p *Pairs) Run(ours func(), peer func() (cpu time.Duration)) {
	p.RunResults(func() Result { return InProcess(ours) }, func() Result {
		start := time.Now()
		cpu := peer()
		return Result{Wall: time.Since(start), CPU: cpu}
	})
}

// Report reports the medians for bytes moved per run (0: no MB/s):
// ours-MB/s, PEER-MB/s; x-PEER, the median ratio of the peer's wall time
// to ours (above 1 we are faster); cpu-x-PEER, the same for CPU time (what
// a loaded machine measures best: the work each side does); and, where
// known, the peak resident memory of each side (ours-RSS-MiB,
// PEER-RSS-MiB, the largest of the runs).
func (p *Pairs) Report(b *testing.B, bytes int64) {
	if len(p.ours) == 0 {
		return
	}
	wall := func(r Result) time.Duration { return r.Wall }
	cpu := func(r Result) time.Duration { return r.CPU }
	if bytes > 0 {
		b.ReportMetric(float64(bytes)/1e6/median(p.ours, wall).Seconds(), "ours-MB/s")
		b.ReportMetric(float64(bytes)/1e6/median(p.peers, wall).Seconds(), p.Peer+"-MB/s")
	} else {
		b.ReportMetric(median(p.ours, wall).Seconds(), "ours-s")
		b.ReportMetric(median(p.peers, wall).Seconds(), p.Peer+"-s")
	}
	b.ReportMetric(p.ratio(wall), "x-"+p.Peer)
	if p.ratio(cpu) > 0 {
		b.ReportMetric(p.ratio(cpu), "cpu-x-"+p.Peer)
	}
	for _, side := range []struct {
		name string
		rs   []Result
	}{{"ours", p.ours}, {p.Peer, p.peers}} {
		var peak int64
		for _, r := range side.rs {
			peak = max(peak, r.MaxRSS)
		}
		if peak > 0 {
			b.ReportMetric(float64(peak)/(1<<20), side.name+"-RSS-MiB")
		}
	}
}

// ratio is the median of peer/ours for the measure f; 0 when a side
// lacks it.
func (p *Pairs) ratio(f func(Result) time.Duration) float64 {
	r := make([]float64, len(p.ours))
	for i := range p.ours {
		if f(p.ours[i]) <= 0 || f(p.peers[i]) <= 0 {
			return 0
		}
		r[i] = f(p.peers[i]).Seconds() / f(p.ours[i]).Seconds()
	}
	return medianF(r)
}

func median(rs []Result, f func(Result) time.Duration) time.Duration {
	d := make([]time.Duration, len(rs))
	for i, r := range rs {
		d[i] = f(r)
	}
	slices.Sort(d)
	return d[len(d)/2]
}

func medianF(f []float64) float64 {
	s := slices.Clone(f)
	slices.Sort(s)
	return s[len(s)/2]
}

// Time runs f and returns how long it took.
func Time(f func()) time.Duration {
	t := time.Now()
	f()
	return time.Since(t)
}

// CPU is this process's user and system time so far.
func CPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// InProcess runs work done in this process and returns its wall and
// CPU time (the whole process's, so run nothing else meanwhile).
func InProcess(f func()) Result {
	c := CPU()
	w := Time(f)
	return Result{Wall: w, CPU: CPU() - c}
}

// Proc runs a program with its standard output to stdout ("" for
// /dev/null) and returns its wall time, CPU time and peak memory.
func Proc(b testing.TB, stdout string, name string, args ...string) Result {
	b.Helper()
	return run(b, stdout, nil, name, args...)
}

// Cmd is Proc's wall and CPU time.
func Cmd(b testing.TB, stdout string, name string, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	r := run(b, stdout, nil, name, args...)
	return r.Wall, r.CPU
}

// selfEnv asks the test binary, run again by Self, to be the command.
const selfEnv = "VMFSRECOVER_BENCH_SELF"

// Self runs the test binary again as the command it tests, with args as
// its command line (RunSelfIfAsked in TestMain makes it so), measured as a
// peer is: so that our side costs a process start, and reports its
// memory, as the peer's does.
func Self(b testing.TB, stdout string, args ...string) Result {
	b.Helper()
	return run(b, stdout, []string{selfEnv + "=1"}, os.Args[0], args...)
}

// SelfInto is Self with its standard output piped into consumer's
// standard input: the wall time is the pipeline's, the CPU time both
// programs', the peak memory the larger one's.
func SelfInto(b testing.TB, consumer []string, args ...string) Result {
	b.Helper()
	return run(b, "", []string{selfEnv + "=1"}, "bash", "-c", pipeline(append([]string{os.Args[0]}, args...), consumer))
}

// ProcInto is Proc with its standard output piped into consumer's, as
// SelfInto.
func ProcInto(b testing.TB, consumer []string, name string, args ...string) Result {
	b.Helper()
	return run(b, "", nil, "bash", "-c", pipeline(append([]string{name}, args...), consumer))
}

// pipeline is the bash command line that pipes producer into consumer
// and fails if either does.
func pipeline(producer, consumer []string) string {
	return "set -o pipefail; " + textout.ShellQuoteAll(producer) + " | " + textout.ShellQuoteAll(consumer)
}

// RunSelfIfAsked, called first in TestMain, runs main with the command
// line Self gave instead of the tests; main exits.
func RunSelfIfAsked(main func()) {
	if os.Getenv(selfEnv) != "1" {
		return
	}
	os.Unsetenv(selfEnv)
	main()
	os.Exit(0)
}

func run(b testing.TB, stdout string, env []string, name string, args ...string) Result {
	b.Helper()
	if stdout == "" {
		stdout = os.DevNull
	}
	out, err := os.OpenFile(stdout, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	// A child of this process reports this process's peak memory as its
	// own (its exec replaces the memory it shared with us, and the kernel
	// keeps the larger peak); GNU time forks it from a small process, and
	// says what it really took.
	rss := filepath.Join(b.TempDir(), "maxrss")
	gnuTime := testenv.Tool(b, "time")
	cmd := exec.Command(gnuTime, append([]string{"-q", "-f", "%M", "-o", rss, name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	r := Result{Wall: time.Since(start), CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if kib, err := os.ReadFile(rss); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(kib)), 10, 64); err == nil {
			r.MaxRSS = v << 10
		}
	}
	return r
}

// Fixture returns the path of the benchmark input name under
// testdata/generated/bench at the module root, calling make to write it
// (to a temporary name, renamed once complete) when it is not there yet.
func Fixture(b testing.TB, name string, make func(path string) error) string {
	b.Helper()
	dir := filepath.Join(moduleRoot(b), "testdata", "generated", "bench")
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp-"+name)
	if err := make(tmp); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		b.Fatal(err)
	}
	return p
}

func moduleRoot(b testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			b.Fatal("benchpeer: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Warm puts a file in the page cache as a first read from the disk does:
// it drops what the cache holds of it, then reads it once. A file just
// written sits in the cache in pieces as large as its writes, and reading
// it then is faster or slower by how it was written (the same 2 GiB read
// 0.71x as fast as a plain copy's by cat as written, 0.84-0.88x once both
// were read back from the disk): files warmed here are held alike. Then
// it waits for the machine to settle (Settle). Where it can, a pair reads
// the same file on both sides (cat's dd reads the file's bytes in the
// volume image): two files warmed alike still came out 0.5-0.8x apart in
// some runs.
func Warm(b testing.TB, path string) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		b.Fatal(err)
	}
	Settle()
}

// Settle waits, at most settleMax, until the machine's CPUs have been
// quiet for settleWindow: all of them together busy (user, system,
// interrupts, time stolen by the host) less than a tenth of one CPU. On
// the virtual machines here the kernel reports freed memory to the host
// two seconds after it is freed, and writes dirty pages back after a
// while: a side timed during that work was slower by up to a third,
// which side was chance (cat against dd just after Warm dropped and
// re-read 4.5 GB: 0.65-0.76 in those runs, 0.96-0.98 in the others).
// Warm settles after its read. Settling before each side of a pair is
// worse: a side that starts on idle CPUs starts slow (cat against dd
// 0.58-0.82 so, 0.69-1.27 with both sides back to back).
func Settle() {
	deadline := time.Now().Add(settleMax)
	last, ok := busyTicks()
	for ok && time.Now().Before(deadline) {
		time.Sleep(settleWindow)
		now, ok2 := busyTicks()
		if !ok2 {
			return
		}
		// /proc/stat counts 100 ticks per CPU second.
		if float64(now-last) < 0.1*100*settleWindow.Seconds() {
			return
		}
		last = now
	}
}

const (
	settleWindow = 500 * time.Millisecond
	settleMax    = 10 * time.Second
)

// busyTicks is the CPU time /proc/stat counts as busy on all CPUs since
// boot, in ticks: every column of its "cpu" line but idle and iowait.
func busyTicks() (int64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, f := range fields[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += v
	}
	return busy, true
}

// RecycleMemory touches n bytes of fresh anonymous memory and frees them,
// so that a writer timed next finds that much page-cache memory the
// kernel has just freed. On the virtual machines here, writing a file
// into pages the guest has not touched for a while costs 1.6-3.2 s of
// system time per GiB against 0.26-0.31 s into pages freed a moment ago
// (the host backs guest memory lazily): without this, which writer of a
// pair meets cold memory is chance, and the ratio with it (0.36-1.12 for
// the same code in one hour). Call it before each timed writer
// (Pairs.Before).
func RecycleMemory(b testing.TB, n int64) {
	b.Helper()
	m, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(m); i += os.Getpagesize() {
		m[i] = 1
	}
	if err := syscall.Munmap(m); err != nil {
		b.Fatal(err)
	}
}

// SHA256 measures this machine's single-core SHA-256 rate now in MB/s:
// the ceiling of any work that hashes every byte.
func SHA256() float64 {
	buf := make([]byte, 1<<20)
	h := sha256.New()
	start := time.Now()
	for range 256 {
		h.Write(buf)
	}
	return 256 * float64(len(buf)) / 1e6 / time.Since(start).Seconds()
}

// ReportSHA256 reports the SHA-256 rate (sha256-MB/s) and whether the
// CPU has SHA instructions (sha-ni, 1 or 0). Call it after the benchmark's
// loop, which clears the metrics reported before it.
func ReportSHA256(b *testing.B, rate float64) {
	b.ReportMetric(rate, "sha256-MB/s")
	ni := 0.0
	if HasSHANI() {
		ni = 1
	}
	b.ReportMetric(ni, "sha-ni")
}

// HasSHANI reports whether the CPU advertises the SHA extensions (the
// sha_ni flag of /proc/cpuinfo on x86, sha2 on arm64).
func HasSHANI() bool {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(info), "\n") {
		if strings.HasPrefix(line, "flags") || strings.HasPrefix(line, "Features") {
			for _, f := range strings.Fields(line) {
				if f == "sha_ni" || f == "sha2" {
					return true
				}
			}
		}
	}
	return false
}

// Tree is a Fixture made from a folder: fill writes a tree into an empty
// temporary folder, then build makes the input at path from it (mkfs -d,
// mcopy -s); the folder is removed after.
func Tree(b testing.TB, name string, fill func(dir string) error, build func(dir, path string) error) string {
	return Fixture(b, name, func(path string) error {
		dir, err := os.MkdirTemp("", "benchpeer-tree-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := fill(dir); err != nil {
			return err
		}
		return build(dir, path)
	})
}

// ReadAt reads n bytes of r from off, len(buf) at a time: one side of a
// benchmark that reads a file, or the raw bytes of its extents.
func ReadAt(b testing.TB, r io.ReaderAt, off, n int64, buf []byte) {
	for end := off + n; off < end; off += int64(len(buf)) {
		if _, err := r.ReadAt(buf[:min(int64(len(buf)), end-off)], off); err != nil && err != io.EOF {
			b.Fatal(err)
		}
	}
}

// Walk lists fsys as ls -lR does, each entry with its FileInfo, and
// returns how many entries it met and the heap in use after it, in MiB:
// after a collection, with fsys and what it keeps alive.
func Walk(b testing.TB, fsys fs.FS) (entries int, heapMiB float64) {
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := d.Info(); err != nil {
			return err
		}
		entries++
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(fsys) // what the reader keeps (its caches) counts
	return entries, float64(ms.HeapInuse) / (1 << 20)
}

// ManyFiles fills dir with dirs folders named PREFIX0, PREFIX1, ... of
// files empty files each (file-0, file-1, ...): the tree of a listing
// benchmark.
func ManyFiles(dir, prefix string, dirs, files int) error {
	for d := 0; d < dirs; d++ {
		sub := filepath.Join(dir, prefix+strconv.Itoa(d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return err
		}
		for i := 0; i < files; i++ {
			if err := os.WriteFile(filepath.Join(sub, "file-"+strconv.Itoa(i)), nil, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

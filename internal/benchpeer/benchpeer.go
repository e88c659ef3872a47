package benchpeer

import (
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Pairs holds the timings of our work and the peer's, one pair per
// iteration of a benchmark: wall time, and CPU time when the peer's is
// known.
type Pairs struct {
	Peer              string // the peer's name in metrics: x-PEER, PEER-MB/s
	ours, peers       []time.Duration
	oursCPU, peersCPU []time.Duration
}

// Add records one iteration's wall times.
func (p *Pairs) Add(ours, peer time.Duration) {
	p.ours = append(p.ours, ours)
	p.peers = append(p.peers, peer)
}

// Last returns the latest pair of wall times recorded.
func (p *Pairs) Last() (ours, peer time.Duration) {
	return p.ours[len(p.ours)-1], p.peers[len(p.peers)-1]
}

// Run times ours and peer once each and records the pair; peer returns
// the CPU time it used (Cmd's), or 0 when unknown. Every other call runs
// the peer first, so that neither side always inherits the other's
// leftovers (dirty pages being written back, a cold cache).
func (p *Pairs) Run(ours func(), peer func() (cpu time.Duration)) {
	var o, q, oc, qc time.Duration
	runOurs := func() {
		c := CPU()
		o = Time(ours)
		oc = CPU() - c
	}
	runPeer := func() {
		start := time.Now()
		qc = peer()
		q = time.Since(start)
	}
	if len(p.ours)%2 == 0 {
		runOurs()
		runPeer()
	} else {
		runPeer()
		runOurs()
	}
	p.Add(o, q)
	if qc > 0 {
		p.oursCPU = append(p.oursCPU, oc)
		p.peersCPU = append(p.peersCPU, qc)
	}
}

// Report reports the medians for bytes moved per run: ours-MB/s,
// PEER-MB/s and x-PEER, the median ratio of the peer's wall time to ours;
// with CPU times for every pair, cpu-x-PEER, the median ratio of CPU
// times (what a loaded machine measures best: the work each side does).
func (p *Pairs) Report(b *testing.B, bytes int64) {
	if len(p.ours) == 0 {
		return
	}
	b.ReportMetric(float64(bytes)/1e6/median(p.ours).Seconds(), "ours-MB/s")
	b.ReportMetric(float64(bytes)/1e6/median(p.peers).Seconds(), p.Peer+"-MB/s")
	b.ReportMetric(medianRatio(p.peers, p.ours), "x-"+p.Peer)
	if len(p.oursCPU) == len(p.ours) {
		b.ReportMetric(medianRatio(p.peersCPU, p.oursCPU), "cpu-x-"+p.Peer)
	}
}

func medianRatio(num, den []time.Duration) float64 {
	r := make([]float64, len(num))
	for i := range num {
		r[i] = num[i].Seconds() / den[i].Seconds()
	}
	return medianF(r)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
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

// Cmd runs a peer tool with its standard output to stdout ("" for
// /dev/null) and returns its wall and CPU (user + system) time.
func Cmd(b testing.TB, stdout string, name string, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	if stdout == "" {
		stdout = os.DevNull
	}
	out, err := os.OpenFile(stdout, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	wall = time.Since(start)
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
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

// Warm reads a file once so that the page cache holds it for both sides.
func Warm(b testing.TB, path string) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
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

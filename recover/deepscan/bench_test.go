package deepscan

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// scanBenchSize is the image of issue 14's deep-scan rows: 3 GiB.
const scanBenchSize = 3 << 30

// scanFixture writes a 3 GiB image: dense, pseudo-random bytes all
// through; or sparse, a hole with 4 MiB of those bytes every 256 MiB.
func scanFixture(b *testing.B, dense bool) string {
	name := "scan-sparse-3g.img"
	if dense {
		name = "scan-dense-3g.img"
	}
	return benchpeer.Fixture(b, name, func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 4<<20)
		for off := int64(0); off < scanBenchSize; off += int64(len(buf)) {
			if !dense && off%(256<<20) != 0 {
				continue
			}
			for i := 0; i < len(buf); i += 8 {
				v := rng.Uint64()
				for k := range 8 {
					buf[i+k] = byte(v >> (8 * k))
				}
			}
			if _, err := f.WriteAt(buf, off); err != nil {
				return err
			}
		}
		if err := f.Truncate(scanBenchSize); err != nil {
			return err
		}
		return f.Close()
	})
}

// BenchmarkDeepScanVsCat scans a page-cached 3 GiB image and, in the same
// iteration, times `cat IMAGE > /dev/null` on it (issue 14: x-cat >= 0.95
// on dense data; ahead of cat on a sparse image). cpu-x-cat is cat's CPU
// time over the scan's: with the image in the page cache both are
// CPU-bound, and CPU time is what a loaded machine measures best.
func BenchmarkDeepScanVsCat(b *testing.B) {
	cat := testenv.Tool(b, "cat")
	for _, dense := range []bool{true, false} {
		name := "sparse"
		if dense {
			name = "dense"
		}
		b.Run(name, func(b *testing.B) {
			path := scanFixture(b, dense)
			benchpeer.Warm(b, path)
			in, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			// A pair takes well under a second; single pairs moved
			// 0.53-1.82x with the host's state.
			p := benchpeer.Pairs{Peer: "cat", Runs: 3}
			b.SetBytes(scanBenchSize)
			for b.Loop() {
				p.Run(func() {
					if err := Scan(context.Background(), in, New("bench", "bench", scanBenchSize), Options{}); err != nil {
						b.Fatal(err)
					}
				}, func() time.Duration {
					_, cpu := benchpeer.Cmd(b, "", cat, path)
					return cpu
				})
			}
			p.Report(b, scanBenchSize)
		})
	}
}

package raid_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

// BenchmarkRead reads an assembled array sequentially, healthy and
// rebuilding from parity, and in the same run reads the same number of
// bytes from one image file; "x-single" is the array's speed as a
// fraction of the single file's (goal: at least 0.8).
func BenchmarkRead(b *testing.B) {
	const size = 96 << 20
	src := randomImage(11, size)
	single := filepath.Join(b.TempDir(), "single.img")
	if err := os.WriteFile(single, src, 0o600); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		c    config
		drop []int
	}{
		{"raid5-healthy", config{raid.RAID5, raid.LeftSymmetric, 64 << 10, 4, 0}, nil},
		{"raid5-missing1", config{raid.RAID5, raid.LeftSymmetric, 64 << 10, 4, 0}, []int{1}},
		{"raid6-missing2", config{raid.RAID6, raid.LeftSymmetric, 64 << 10, 6, 0}, []int{0, 3}},
		{"raid0", config{raid.RAID0, raid.LayoutUnknown, 64 << 10, 3, 0}, nil},
		{"raid10", config{raid.RAID10, raid.LayoutUnknown, 64 << 10, 4, 0}, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ms := openMembers(b, buildBytes(b, bc.c, src))
			for _, d := range bc.drop {
				ms[d] = nil
			}
			a, err := raid.New(bc.c.geometry(), ms)
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Open(single)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 1<<20)
			readAll := func(r io.ReaderAt) time.Duration {
				t0 := time.Now()
				for off := int64(0); off < size; off += int64(len(buf)) {
					if _, err := r.ReadAt(buf, off); err != nil && err != io.EOF {
						b.Fatal(err)
					}
				}
				return time.Since(t0)
			}
			readAll(a) // warm the page cache
			readAll(f)
			b.SetBytes(size)
			b.ResetTimer()
			var arr, one time.Duration
			for range b.N {
				arr += readAll(a)
				b.StopTimer()
				one += readAll(f)
				b.StartTimer()
			}
			b.ReportMetric(float64(one)/float64(arr), "x-single")
		})
	}
}

package raid_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

// BenchmarkRead reads an assembled array sequentially, healthy and
// rebuilding from parity, and in the same iteration reads the same number
// of bytes from one image file written as a member is (1 MiB reads, both
// in the page cache);
// "x-single" is the median of the array's speed as a fraction of the
// single file's (goal: at least 0.8), "cpu-x-single" the same for CPU
// time (the array reads on several goroutines, so its wall time may gain
// where its CPU time cannot).
func BenchmarkRead(b *testing.B) {
	const size = 96 << 20
	src := randomImage(11, size)
	// The single image is written as raidtest writes the members, a chunk
	// (64 KiB) at a time: the page cache keeps a file in folios as large
	// as its writes, and larger folios cost less CPU to read (1 MiB reads
	// of 96 MiB here: 5.6 ms written at once, 7.9 ms written 64 KiB at a
	// time, 18 ms 4 KiB at a time), which would favour a file written at
	// once over the members.
	single := filepath.Join(b.TempDir(), "single.img")
	f, err := os.Create(single)
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < size; off += 64 << 10 {
		if _, err := f.WriteAt(src[off:off+64<<10], int64(off)); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
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
			a := newArray(b, bc.c, openMembers(b, buildBytes(b, bc.c, src)), bc.drop)
			f, err := os.Open(single)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 1<<20)
			readAll := func(r io.ReaderAt) func() benchpeer.Result {
				return func() benchpeer.Result {
					return benchpeer.InProcess(func() { benchpeer.ReadAt(b, r, 0, size, buf) })
				}
			}
			readAll(a)() // warm the page cache
			readAll(f)()
			// A pair takes about 10 ms here, a slice of the host's
			// noise: each iteration records 20.
			pairs := benchpeer.Pairs{Peer: "single", Runs: 20}
			b.ResetTimer()
			for range b.N {
				pairs.RunResults(readAll(a), readAll(f))
			}
			pairs.Report(b, size)
		})
	}
}

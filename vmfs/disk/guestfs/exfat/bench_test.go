package exfat

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// BenchmarkReadFile reads a 200 MiB file, written through exfat-fuse,
// through the reader and, in the same run, the same clusters of the image
// raw (issue 15: at least 0.8x); benchpeer reports x-raw (above 1 we are
// faster). No peer reads exFAT without mounting it.
func BenchmarkReadFile(b *testing.B) {
	const size = 200 << 20
	img := mkfsFilled(b, b.TempDir(), 256<<20, func(mnt string) {
		if err := os.WriteFile(filepath.Join(mnt, "big"), bytes.Repeat(pattern(1<<20, 9), size>>20), 0o644); err != nil {
			b.Fatal(err)
		}
	})
	imgf, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer imgf.Close()
	fi, _ := imgf.Stat()
	v, err := Open(imgf, fi.Size(), guestfs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fl, err := v.Open("big")
	if err != nil {
		b.Fatal(err)
	}
	n, _ := v.lookup("stat", "big")
	s, err := v.chainStream(n.cluster, n.size, n.noFatChain)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	ours := func() { benchpeer.ReadAt(b, fl.(io.ReaderAt), 0, size, buf) }
	raw := func() {
		for _, x := range s.data.List {
			benchpeer.ReadAt(b, imgf, x.Dev, x.Len, buf)
		}
	}
	raw() // the page cache holds the image for both alike
	ours()
	vsRaw := benchpeer.Pairs{Peer: "raw"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vsRaw.Run(ours, func() time.Duration { return benchpeer.InProcess(raw).CPU })
	}
	b.StopTimer()
	vsRaw.Report(b, size)
}

package ext

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// cachedImage makes an ext4 image once (a benchpeer.Fixture): fill
// populates a folder that mkfs.ext4 -d copies in.
func cachedImage(b *testing.B, name string, size int64, fill func(dir string) error, args ...string) string {
	b.Helper()
	mkfs := testenv.Tool(b, "mkfs.ext4")
	return benchpeer.Tree(b, "ext4-"+name+".img", fill, func(src, img string) error {
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			return err
		}
		if err := os.Truncate(img, size); err != nil {
			return err
		}
		out, err := exec.Command(mkfs, append(append([]string{"-q", "-F"}, args...), "-d", src, img)...).CombinedOutput()
		if err != nil {
			return &os.PathError{Op: "mkfs.ext4 " + string(out), Path: img, Err: err}
		}
		return nil
	})
}

// BenchmarkReadFile reads a 200 MiB file through the reader and, in the
// same run, the same blocks of the image raw (issue 15: at least 0.8x)
// and through debugfs dump (the e2fsprogs peer); benchpeer reports the
// ratios (x-raw, x-debugfs: above 1 we are faster).
func BenchmarkReadFile(b *testing.B) {
	const size = 200 << 20
	img := cachedImage(b, "read200", 256<<20, func(dir string) error {
		f, err := os.Create(filepath.Join(dir, "big"))
		if err != nil {
			return err
		}
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i * 7 / 13)
		}
		for i := 0; i < size>>20; i++ {
			buf[0] = byte(i)
			if _, err := f.Write(buf); err != nil {
				return err
			}
		}
		return f.Close()
	}, "-b", "4096")
	imgf, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer imgf.Close()
	fi, _ := imgf.Stat()
	fsys, err := Open(imgf, fi.Size(), guestfs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fl, err := fsys.Open("big")
	if err != nil {
		b.Fatal(err)
	}
	m, _ := fl.(allocmap.Mapper).AllocationMap()
	if m.Total() != size {
		b.Fatalf("map covers %d bytes", m.Total())
	}
	in, _ := fsys.readInode(uint32(mustInfo(b, fl).ID))
	lay, _ := fsys.layoutOf(in)
	buf := make([]byte, 1<<20)
	ours := func() { benchpeer.ReadAt(b, fl.(io.ReaderAt), 0, size, buf) }
	raw := func() {
		for _, r := range lay.runs {
			benchpeer.ReadAt(b, imgf, r.pblk*4096, r.n*4096, buf)
		}
	}
	debugfs := testenv.Tool(b, "debugfs")
	raw() // the page cache holds the image for all alike
	ours()
	vsRaw := benchpeer.Pairs{Peer: "raw"}
	vsDebugfs := benchpeer.Pairs{Peer: "debugfs"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vsRaw.Run(ours, func() time.Duration { return benchpeer.InProcess(raw).CPU })
		vsDebugfs.Run(ours, func() time.Duration {
			_, cpu := benchpeer.Cmd(b, "", debugfs, "-R", "dump /big /dev/null", img)
			return cpu
		})
	}
	b.StopTimer()
	vsRaw.Report(b, size)
	vsDebugfs.Report(b, size)
}

func mustInfo(b *testing.B, f fs.File) *guestfs.Info {
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return fi.Sys().(*guestfs.Info)
}

// BenchmarkList100k lists 100,000 files (100 directories of 1000) with
// their Info, and reports the heap in use after the walk.
func BenchmarkList100k(b *testing.B) {
	img := cachedImage(b, "list100k", 256<<20, func(dir string) error { return benchpeer.ManyFiles(dir, "dir-", 100, 1000) }, "-b", "4096", "-N", "110000")
	imgf, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer imgf.Close()
	fi, _ := imgf.Stat()
	var heap float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fsys, err := Open(imgf, fi.Size(), guestfs.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var n int
		if n, heap = benchpeer.Walk(b, fsys); n < 100_000 {
			b.Fatalf("listed %d", n)
		}
	}
	b.ReportMetric(heap, "heap-MiB")
}

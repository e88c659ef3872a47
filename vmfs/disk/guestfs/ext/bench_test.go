package ext

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// benchDir holds the benchmarks' images across -count runs; TestMain
// removes it.
var (
	benchOnce sync.Map // image name -> *benchImage
	benchDir  string
)

type benchImage struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// cachedImage makes an ext4 image once per test binary: fill populates
// a folder that mkfs.ext4 -d copies in.
func cachedImage(b *testing.B, name string, size int64, fill func(dir string) error, args ...string) string {
	b.Helper()
	mkfs := testenv.Tool(b, "mkfs.ext4")
	v, _ := benchOnce.LoadOrStore(name, &benchImage{})
	im := v.(*benchImage)
	im.once.Do(func() {
		if benchDir == "" {
			if benchDir, im.err = os.MkdirTemp("", "ext-bench-"); im.err != nil {
				return
			}
		}
		src := filepath.Join(benchDir, name+".src")
		if im.err = os.MkdirAll(src, 0o755); im.err != nil {
			return
		}
		if im.err = fill(src); im.err != nil {
			return
		}
		im.path = filepath.Join(benchDir, name+".img")
		if im.err = os.WriteFile(im.path, nil, 0o644); im.err != nil {
			return
		}
		os.Truncate(im.path, size)
		out, err := exec.Command(mkfs, append(append([]string{"-q", "-F"}, args...), "-d", src, im.path)...).CombinedOutput()
		if err != nil {
			im.err = &os.PathError{Op: "mkfs.ext4 " + string(out), Path: im.path, Err: err}
		}
		os.RemoveAll(src)
	})
	if im.err != nil {
		b.Fatal(im.err)
	}
	return im.path
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// BenchmarkReadFile reads a 200 MiB file through the reader and, in the
// same run, the same blocks of the image raw (issue 15: at least 0.8x)
// and through debugfs dump (the e2fsprogs peer). Reports
// speed-vs-raw and speed-vs-debugfs (ours / theirs in bytes per second).
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
	ours := func() {
		ra := fl.(io.ReaderAt)
		for off := int64(0); off < size; off += int64(len(buf)) {
			if _, err := ra.ReadAt(buf, off); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
	}
	raw := func() {
		for _, r := range lay.runs {
			for off, end := r.pblk*4096, (r.pblk+r.n)*4096; off < end; off += int64(len(buf)) {
				n := min(int64(len(buf)), end-off)
				if _, err := imgf.ReadAt(buf[:n], off); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	debugfs, haveDebugfs := testenv.LookTool(b, "debugfs")
	peer := func() {
		if err := exec.Command(debugfs, "-R", "dump /big /dev/null", img).Run(); err != nil {
			b.Fatal(err)
		}
	}
	raw() // the page cache holds the image for both alike
	ours()
	var to, tr, tp []time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		raw()
		tr = append(tr, time.Since(start))
		start = time.Now()
		ours()
		to = append(to, time.Since(start))
		if haveDebugfs {
			start = time.Now()
			peer()
			tp = append(tp, time.Since(start))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(median(tr))/float64(median(to)), "speed-vs-raw")
	if haveDebugfs {
		b.ReportMetric(float64(median(tp))/float64(median(to)), "speed-vs-debugfs")
	}
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
	img := cachedImage(b, "list100k", 256<<20, func(dir string) error {
		for d := 0; d < 100; d++ {
			sub := filepath.Join(dir, "dir-"+strconv.Itoa(d))
			if err := os.Mkdir(sub, 0o755); err != nil {
				return err
			}
			for i := 0; i < 1000; i++ {
				if err := os.WriteFile(filepath.Join(sub, "file-"+strconv.Itoa(i)), nil, 0o644); err != nil {
					return err
				}
			}
		}
		return nil
	}, "-b", "4096", "-N", "110000")
	imgf, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer imgf.Close()
	fi, _ := imgf.Stat()
	var heap uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fsys, err := Open(imgf, fi.Size(), guestfs.Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if _, err := d.Info(); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil || n < 100_000 {
			b.Fatalf("listed %d: %v", n, err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
	}
	b.ReportMetric(float64(heap)/(1<<20), "MiB-heap")
}

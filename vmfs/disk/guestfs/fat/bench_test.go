package fat

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// fat32Image makes a FAT32 image of size bytes with mkfs.fat, once (a
// benchpeer.Fixture), and copies the tree fill makes into it with mcopy -s.
func fat32Image(b *testing.B, name string, size int64, fill func(dir string) error) string {
	mkfsFat, mcopy := testenv.Tool(b, "mkfs.fat"), testenv.Tool(b, "mcopy")
	return benchpeer.Tree(b, "fat32-"+name+".img", fill, func(src, img string) error {
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			return err
		}
		if err := os.Truncate(img, size); err != nil {
			return err
		}
		if out, err := exec.Command(mkfsFat, "-F", "32", img).CombinedOutput(); err != nil {
			return &os.PathError{Op: "mkfs.fat " + string(out), Path: img, Err: err}
		}
		entries, _ := os.ReadDir(src)
		args := []string{"-s", "-i", img}
		for _, e := range entries {
			args = append(args, filepath.Join(src, e.Name()))
		}
		cmd := exec.Command(mcopy, append(args, "::")...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return &os.PathError{Op: "mcopy " + string(out), Path: img, Err: err}
		}
		return nil
	})
}

// BenchmarkReadFile reads a 200 MiB file through the reader and, in the
// same run, the same clusters of the image raw (issue 15: at least 0.8x)
// and through mcopy (the mtools peer); benchpeer reports the ratios
// (x-raw, x-mcopy: above 1 we are faster).
func BenchmarkReadFile(b *testing.B) {
	const size = 200 << 20
	img := fat32Image(b, "read200", 256<<20, func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat(pattern(1<<20, 9), size>>20), 0o644)
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
	e, _ := v.lookup("stat", "big")
	cl, err := v.fileClusters(e)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	ours := func() { benchpeer.ReadAt(b, fl.(io.ReaderAt), 0, size, buf) }
	// raw reads the file's clusters in runs of contiguous ones, 1 MiB at
	// a time: what dump --offset --length of those bytes reads.
	raw := func() {
		for i := 0; i < len(cl); {
			j := i + 1
			for j < len(cl) && cl[j] == cl[j-1]+1 && int64(j-i)*v.clusterSize < int64(len(buf)) {
				j++
			}
			if _, err := imgf.ReadAt(buf[:int64(j-i)*v.clusterSize], v.clusterOff(cl[i])); err != nil {
				b.Fatal(err)
			}
			i = j
		}
	}
	mcopy := testenv.Tool(b, "mcopy")
	os.Setenv("MTOOLS_SKIP_CHECK", "1")
	raw() // the page cache holds the image for all alike
	ours()
	vsRaw := benchpeer.Pairs{Peer: "raw"}
	vsMcopy := benchpeer.Pairs{Peer: "mcopy"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vsRaw.Run(ours, func() time.Duration { return benchpeer.InProcess(raw).CPU })
		vsMcopy.Run(ours, func() time.Duration {
			_, cpu := benchpeer.Cmd(b, "", mcopy, "-i", img, "::big", "-")
			return cpu
		})
	}
	b.StopTimer()
	vsRaw.Report(b, size)
	vsMcopy.Report(b, 0)
}

// BenchmarkList100k lists 100,000 files (100 directories of 1000) with
// their Info, and reports the heap in use after the walk. The names fit
// 8.3 (mcopy takes minutes to make 1000 unique short names for long ones).
func BenchmarkList100k(b *testing.B) {
	img := fat32Image(b, "list100k", 256<<20, func(dir string) error { return benchpeer.ManyFiles(dir, "dir", 100, 1000) })
	imgf, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer imgf.Close()
	fi, _ := imgf.Stat()
	var heap float64
	for i := 0; i < b.N; i++ {
		v, err := Open(imgf, fi.Size(), guestfs.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var n int
		if n, heap = benchpeer.Walk(b, v); n != 100*1000+100+1 {
			b.Fatalf("%d entries", n)
		}
	}
	b.ReportMetric(heap, "heap-MiB")
}

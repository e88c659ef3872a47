package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// lsBenchFiles is issue 14's listing: 100,000 files on VMFS5, 1,000 in
// each of 100 folders.
const lsBenchFiles = 100_000

func lsFixture(b *testing.B) string {
	return benchpeer.Fixture(b, "vmfs5-100k.img", func(path string) error {
		files := make([]vmfstest.Entry, 0, lsBenchFiles)
		for i := range lsBenchFiles {
			files = append(files, vmfstest.Entry{
				Path: fmt.Sprintf("vm%03d/file%04d.log", i/1000, i%1000),
				Data: []byte(fmt.Sprintf("file %d\n", i)),
			})
		}
		_, err := vmfstest.Write(path, vmfstest.Spec{Version: 5, Label: "bench", Files: files})
		return err
	})
}

// BenchmarkLsVsVmfsFuse: vmfsrecover ls -r -l of the 100,000 files against
// vmfs-tools' vmfs-fuse mounted and walked by find -ls, mount and unmount
// included (issue 14: x-vmfs-fuse >= 10, and our peak memory bounded).
func BenchmarkLsVsVmfsFuse(b *testing.B) {
	fuse := testenv.Tool(b, "vmfs-fuse")
	find := testenv.Tool(b, "find")
	fusermount := testenv.Tool(b, "fusermount")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testenv.Lacks(b, "/dev/fuse (FUSE)")
	}
	img := lsFixture(b)
	benchpeer.Warm(b, img)
	mnt := b.TempDir()
	p := benchpeer.Pairs{Peer: "vmfs-fuse"}
	for b.Loop() {
		p.RunResults(func() benchpeer.Result { return benchpeer.Self(b, "", "ls", "-r", "-l", img) },
			func() benchpeer.Result { return fuseFind(b, fuse, find, fusermount, img, mnt) })
	}
	p.Report(b, 0)
}

// fuseFind mounts img with vmfs-fuse in the foreground, lists it with
// find -ls and unmounts it; the CPU time is both programs'.
func fuseFind(b *testing.B, fuse, find, fusermount, img, mnt string) benchpeer.Result {
	start := time.Now()
	srv := exec.Command(fuse, "-f", img, mnt)
	var stderr strings.Builder
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	var before syscall.Stat_t
	syscall.Stat(filepath.Dir(mnt), &before)
	for {
		var st syscall.Stat_t
		if err := syscall.Stat(mnt, &st); err == nil && st.Dev != before.Dev {
			break
		}
		if srv.ProcessState != nil || time.Since(start) > 30*time.Second {
			srv.Process.Kill()
			b.Fatalf("vmfs-fuse did not mount %s: %s", img, stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	r := benchpeer.Proc(b, "", find, mnt, "-ls")
	if out, err := exec.Command(fusermount, "-u", mnt).CombinedOutput(); err != nil {
		b.Fatalf("fusermount -u: %v %s", err, out)
	}
	if err := srv.Wait(); err != nil {
		b.Fatalf("vmfs-fuse: %v %s", err, stderr.String())
	}
	r.Wall = time.Since(start)
	r.CPU += srv.ProcessState.UserTime() + srv.ProcessState.SystemTime()
	// The peak memory is find's: a child of ours reports ours as its own
	// (see benchpeer's run).
	return r
}

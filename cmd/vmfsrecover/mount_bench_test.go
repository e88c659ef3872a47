package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/mount"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// BenchmarkMountCat reads one 256 MiB file with the system's cat through a
// fresh mount (no page cache of the mount's own) and with vmfsrecover cat,
// in the same run, and reports both rates, their overall ratio and the
// median of the ratios of each pair (the machine is noisy; issue 16's
// target: mount/cat >= 0.8).
func BenchmarkMountCat(b *testing.B) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		b.Skipf("FUSE unavailable: %v", err)
	}
	catBin, err := exec.LookPath("cat")
	if err != nil {
		b.Skip(err)
	}
	const size = 256 << 20
	res, err := vmfstest.Write(filepath.Join(b.TempDir(), "ds.img"), vmfstest.Spec{
		Version: 6, Label: "bench",
		Files: []vmfstest.Entry{{Path: "vm1/disk-flat.vmdk", Size: size, Seed: 7}},
	})
	if err != nil {
		b.Fatal(err)
	}
	g := &globalOptions{quiet: true}
	args := []string{res.Image, "/vm1/disk-flat.vmdk"}
	// Warm the image in the page cache so that both read the same memory.
	if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, args, io.Discard); err != nil {
		b.Fatal(err)
	}
	var tMount, tCat time.Duration
	var ratios []float64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, args, io.Discard); err != nil {
			b.Fatal(err)
		}
		catTook := time.Since(start)
		tCat += catTook

		b.StopTimer()
		fsys, closer, err := openFS(context.Background(), g, &volumeFlags{}, []string{res.Image})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := mount.Mount(b.TempDir(), fsys, mount.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		cmd := exec.Command(catBin, filepath.Join(srv.Dir, "vm1/disk-flat.vmdk"))
		devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout = devNull
		err = cmd.Run()
		mountTook := time.Since(start)
		tMount += mountTook
		ratios = append(ratios, catTook.Seconds()/mountTook.Seconds())
		devNull.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := srv.Unmount(); err != nil {
			b.Fatal(err)
		}
		closer()
		b.StartTimer()
	}
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/tCat.Seconds(), "vmfsrecover-cat-MB/s")
	b.ReportMetric(mb/tMount.Seconds(), "mount-cat-MB/s")
	b.ReportMetric(tCat.Seconds()/tMount.Seconds(), "mount/cat")
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "mount/cat-median")
}

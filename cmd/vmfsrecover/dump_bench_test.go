package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// dumpBenchSize is the virtual disk of issue 14's dump row: 2 GiB.
const dumpBenchSize = 2 << 30

// dumpRaw is the 2 GiB raw disk the benchmark VMDKs are made from: the
// vmdktest pattern (half random, four tenths log text, a tenth zeros, in
// 64 KiB pieces), written 64 MiB at a time.
func dumpRaw(b *testing.B) string {
	return benchpeer.Fixture(b, "pattern-2g.raw", func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		const piece = 64 << 20
		for i := range int64(dumpBenchSize / piece) {
			if _, err := f.Write(vmdktest.Pattern(piece, uint64(i+1))); err != nil {
				return err
			}
		}
		return f.Close()
	})
}

// dumpFixture is the 2 GiB pattern disk as a VMDK of the given layout:
// qemu-img's monolithicSparse or streamOptimized, or the streamOptimized
// open-vmdk/VMware layout python3-vmdkstream writes (tables up front).
func dumpFixture(b *testing.B, layout string) string {
	raw := dumpRaw(b)
	return benchpeer.Fixture(b, layout+"-2g.vmdk", func(path string) error {
		var cmd *exec.Cmd
		switch layout {
		case "vmdkstream":
			python := testenv.Tool(b, "/usr/bin/python3")
			cmd = exec.Command(python, "-c", "import sys, VMDKstream; VMDKstream.convert_to_stream(sys.argv[1], sys.argv[2])", raw, path)
		default:
			cmd = exec.Command(testenv.Tool(b, "qemu-img"), "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+layout, raw, path)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Skipf("making the %s fixture: %v\n%s", layout, err, out)
		}
		return nil
	})
}

// dumpSink is where both sides write their raw image: tmpfs when there is
// one, so that the disk under the test weighs on neither.
func dumpSink(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "dumpbench"); err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// BenchmarkDumpVsQemuImg: vmfsrecover dump of a 2 GiB VMDK against
// qemu-img convert -O raw of the same file, both to a fresh file on tmpfs,
// in each layout (issue 14: x-qemu-img >= 2.0 in every one).
func BenchmarkDumpVsQemuImg(b *testing.B) {
	qemu := testenv.Tool(b, "qemu-img")
	for _, layout := range []string{"monolithicSparse", "streamOptimized", "vmdkstream"} {
		b.Run(layout, func(b *testing.B) {
			src := dumpFixture(b, layout)
			benchpeer.Warm(b, src)
			dir := dumpSink(b)
			ours, theirs := filepath.Join(dir, "ours.raw"), filepath.Join(dir, "qemu.raw")
			// Both write into memory just recycled (tmpfs pages come from
			// the same pool as the page cache's: see RecycleMemory).
			p := benchpeer.Pairs{Peer: "qemu-img", Before: func() { benchpeer.RecycleMemory(b, dumpBenchSize+dumpBenchSize/4) }}
			b.SetBytes(dumpBenchSize)
			for b.Loop() {
				p.Run(func() {
					o := &dumpOptions{globalOptions: &globalOptions{quiet: true}, output: ours}
					if err := runDump(context.Background(), o, src, io.Discard, io.Discard); err != nil {
						b.Fatal(err)
					}
				}, func() time.Duration {
					_, cpu := benchpeer.Cmd(b, "", qemu, "convert", "-f", "vmdk", "-O", "raw", src, theirs)
					return cpu
				})
				os.Remove(ours)
				os.Remove(theirs)
			}
			p.Report(b, dumpBenchSize)
		})
	}
}

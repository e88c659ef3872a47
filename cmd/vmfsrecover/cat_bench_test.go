package main

import (
	"context"
	"os"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// catBenchSize is the file of issue 14's first row: 2 GiB on VMFS5, which
// addresses it through pointer blocks.
const catBenchSize = 2 << 30

// catFixture is a VMFS5 volume holding one 2 GiB file of pseudo-random
// bytes in pointer blocks, and the same bytes as a plain file for dd.
func catFixture(b *testing.B) (img, plain string) {
	img = benchpeer.Fixture(b, "vmfs5-2g.img", func(path string) error {
		_, err := vmfstest.Write(path, vmfstest.Spec{Version: 5, Label: "bench", Files: []vmfstest.Entry{
			{Path: "vm/disk-flat.vmdk", Size: catBenchSize, Seed: 14, Addressing: vmfstest.Pointers},
		}})
		return err
	})
	plain = benchpeer.Fixture(b, "vmfs5-2g.flat", func(path string) error {
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		defer out.Close()
		return runCat(context.Background(), &globalOptions{quiet: true}, &volumeFlags{}, byteRange{}, []string{img, "/vm/disk-flat.vmdk"}, out)
	})
	benchpeer.Warm(b, img)
	benchpeer.Warm(b, plain)
	return img, plain
}

// BenchmarkCatVsDd: vmfsrecover cat of the 2 GiB file against dd bs=1M of
// the same bytes from a plain file, both to /dev/null from the page cache
// (issue 14: x-dd >= 0.95). Both are processes: ours is the test binary
// run again as vmfsrecover (benchpeer.Self).
func BenchmarkCatVsDd(b *testing.B) {
	dd := testenv.Tool(b, "dd")
	img, plain := catFixture(b)
	p := benchpeer.Pairs{Peer: "dd"}
	b.SetBytes(catBenchSize)
	for b.Loop() {
		p.RunResults(func() benchpeer.Result { return benchpeer.Self(b, "", "cat", img, "/vm/disk-flat.vmdk") },
			func() benchpeer.Result { return benchpeer.Proc(b, "", dd, "if="+plain, "of=/dev/null", "bs=1M") })
	}
	p.Report(b, catBenchSize)
}

// BenchmarkCatVsDebugvmfs: vmfsrecover cat against vmfs-tools' debugvmfs
// cat of the same file of the same volume (issue 14: x-debugvmfs > 1).
func BenchmarkCatVsDebugvmfs(b *testing.B) {
	debugvmfs := testenv.Tool(b, "debugvmfs")
	img, _ := catFixture(b)
	p := benchpeer.Pairs{Peer: "debugvmfs"}
	b.SetBytes(catBenchSize)
	for b.Loop() {
		p.RunResults(func() benchpeer.Result { return benchpeer.Self(b, "", "cat", img, "/vm/disk-flat.vmdk") },
			func() benchpeer.Result { return benchpeer.Proc(b, "", debugvmfs, img, "cat", "/vm/disk-flat.vmdk") })
	}
	p.Report(b, catBenchSize)
}

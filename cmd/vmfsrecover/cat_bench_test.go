package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// catBenchSize is the file of issue 14's first row: 2 GiB on VMFS5, which
// addresses it through pointer blocks.
const catBenchSize = 2 << 30

// catPairs is how many pairs one iteration runs (Pairs.Runs): a pair
// takes about a quarter of a second, and the host's noise moved single
// pairs 0.5-1.4x.
const catPairs = 3

// catFixture is a VMFS5 volume holding one 2 GiB file of pseudo-random
// bytes in pointer blocks, and where in the image those bytes lie.
func catFixture(b *testing.B) (img string, extent int64) {
	img = benchpeer.Fixture(b, "vmfs5-2g.img", func(path string) error {
		_, err := vmfstest.Write(path, vmfstest.Spec{Version: 5, Label: "bench", Files: []vmfstest.Entry{
			{Path: "vm/disk-flat.vmdk", Size: catBenchSize, Seed: 14, Addressing: vmfstest.Pointers},
		}})
		return err
	})
	at := benchpeer.Fixture(b, "vmfs5-2g.extent", func(path string) error {
		off, err := findExtent(img)
		if err != nil {
			return err
		}
		return os.WriteFile(path, []byte(strconv.FormatInt(off, 10)), 0o644)
	})
	text, err := os.ReadFile(at)
	if err != nil {
		b.Fatal(err)
	}
	if extent, err = strconv.ParseInt(string(text), 10, 64); err != nil {
		b.Fatalf("%s: %v", at, err)
	}
	benchpeer.Warm(b, img)
	return img, extent
}

// findExtent finds the file's bytes in the image, where vmfstest wrote
// them as one run of blocks: at the MiB of the image that starts with the
// file's first 4 KiB, and only if the 2 GiB from there hash as the file
// does.
func findExtent(img string) (int64, error) {
	cat := func(rng byteRange, w io.Writer) error {
		return runCat(context.Background(), &globalOptions{quiet: true}, &volumeFlags{}, rng, []string{img, "/vm/disk-flat.vmdk"}, w)
	}
	var head bytes.Buffer
	if err := cat(byteRange{0, 4096}, &head); err != nil {
		return 0, err
	}
	f, err := os.Open(img)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for off := int64(0); ; off += 1 << 20 {
		if _, err := f.ReadAt(buf, off); err != nil {
			return 0, fmt.Errorf("%s: the file's first bytes are at no MiB of the image: %w", img, err)
		}
		if !bytes.Equal(buf, head.Bytes()) {
			continue
		}
		ours, run := sha256.New(), sha256.New()
		if err := cat(byteRange{}, ours); err != nil {
			return 0, err
		}
		if _, err := io.Copy(run, io.NewSectionReader(f, off, catBenchSize)); err != nil {
			return 0, err
		}
		if !bytes.Equal(ours.Sum(nil), run.Sum(nil)) {
			return 0, fmt.Errorf("%s: the file is not one run of blocks from %#x", img, off)
		}
		return off, nil
	}
}

// BenchmarkCatVsDd: vmfsrecover cat of the 2 GiB file against dd bs=1M of
// the same bytes where they lie in the image (the same pages of the page
// cache), both to /dev/null (issue 14: x-dd >= 0.95), where our cat's
// copy is the kernel's (sendfile(2)). Both are processes:
// ours is the test binary run again as vmfsrecover (benchpeer.Self).
func BenchmarkCatVsDd(b *testing.B) {
	dd := testenv.Tool(b, "dd")
	img, extent := catFixture(b)
	p := benchpeer.Pairs{Peer: "dd", Runs: catPairs}
	b.SetBytes(catBenchSize)
	for b.Loop() {
		p.RunResults(func() benchpeer.Result { return benchpeer.Self(b, "", "cat", img, "/vm/disk-flat.vmdk") },
			func() benchpeer.Result {
				return benchpeer.Proc(b, "", dd, "if="+img, "of=/dev/null", "bs=1M", "iflag=skip_bytes,count_bytes",
					fmt.Sprintf("skip=%d", extent), fmt.Sprintf("count=%d", catBenchSize))
			})
	}
	p.Report(b, catBenchSize)
}

// BenchmarkCatVsDdPipe: the same pair as BenchmarkCatVsDd with each
// side's output piped into the same reader (dd of=/dev/null), as cat's
// output goes into gzip, ssh or a hasher: what each side costs a
// pipeline whose next program reads every byte. (To /dev/null, our cat
// hands the kernel page references that /dev/null drops unread.)
func BenchmarkCatVsDdPipe(b *testing.B) {
	dd := testenv.Tool(b, "dd")
	img, extent := catFixture(b)
	reader := []string{dd, "of=/dev/null", "bs=1M"}
	p := benchpeer.Pairs{Peer: "dd", Runs: catPairs}
	b.SetBytes(catBenchSize)
	for b.Loop() {
		p.RunResults(func() benchpeer.Result { return benchpeer.SelfInto(b, reader, "cat", img, "/vm/disk-flat.vmdk") },
			func() benchpeer.Result {
				return benchpeer.ProcInto(b, reader, dd, "if="+img, "bs=1M", "iflag=skip_bytes,count_bytes",
					fmt.Sprintf("skip=%d", extent), fmt.Sprintf("count=%d", catBenchSize))
			})
	}
	p.Report(b, catBenchSize)
}

// BenchmarkCatVsDebugvmfs: vmfsrecover cat against vmfs-tools' debugvmfs
// cat of the same file of the same volume (issue 14: x-debugvmfs > 1).
func BenchmarkCatVsDebugvmfs(b *testing.B) {
	debugvmfs := testenv.Tool(b, "debugvmfs")
	img, _ := catFixture(b)
	p := benchpeer.Pairs{Peer: "debugvmfs", Runs: catPairs}
	b.SetBytes(catBenchSize)
	for b.Loop() {
		p.RunResults(func() benchpeer.Result { return benchpeer.Self(b, "", "cat", img, "/vm/disk-flat.vmdk") },
			func() benchpeer.Result { return benchpeer.Proc(b, "", debugvmfs, img, "cat", "/vm/disk-flat.vmdk") })
	}
	p.Report(b, catBenchSize)
}

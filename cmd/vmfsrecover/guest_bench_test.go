package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
)

// guestBenchSize is the guest file read by BenchmarkGuestCatVsDump.
const guestBenchSize = 256 << 20

// guestBenchDisk makes (once) a raw disk partitioned by sfdisk with an
// ext4 partition at 1 MiB made by mkfs.ext4 -d from the files fill writes
// into a folder.
func guestBenchDisk(b *testing.B, name string, size int64, fill func(dir string) error) string {
	return benchpeer.Fixture(b, name, func(path string) error {
		src, err := os.MkdirTemp(filepath.Dir(path), "src-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(src)
		if err := fill(src); err != nil {
			return err
		}
		guesttest.Ext4Disk(b, path, size, src)
		return nil
	})
}

// BenchmarkGuestCatVsDump: vmfsrecover cat of a 256 MiB file inside an
// ext4 partition of a raw disk (through the guest tree: partition table,
// ext4 extents) against vmfsrecover dump --offset --length of as many
// bytes of the same disk, both into a file (issue 15: x-dump >= 0.8).
func BenchmarkGuestCatVsDump(b *testing.B) {
	img := guestBenchDisk(b, "guest-ext4-cat.img", guestBenchSize+64<<20, func(dir string) error {
		f, err := os.Create(filepath.Join(dir, "big.bin"))
		if err != nil {
			return err
		}
		defer f.Close()
		block := bytes.Repeat([]byte("guest bytes, not zeros. "), 1<<16)
		for n := 0; n < guestBenchSize; n += len(block) {
			if _, err := f.Write(block[:min(len(block), guestBenchSize-n)]); err != nil {
				return err
			}
		}
		return nil
	})
	benchpeer.Warm(b, img)
	g := &globalOptions{quiet: true}
	p := benchpeer.Pairs{Peer: "dump"}
	out := filepath.Join(b.TempDir(), "out")
	b.SetBytes(guestBenchSize)
	for b.Loop() {
		p.RunResults(func() benchpeer.Result {
			return benchpeer.InProcess(func() {
				f, err := os.Create(out)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, []string{img, "/p1/big.bin"}, f); err != nil {
					b.Fatal(err)
				}
			})
		}, func() benchpeer.Result {
			return benchpeer.InProcess(func() {
				o := &dumpOptions{globalOptions: g, output: out, force: true, byteRange: byteRange{offset: 1 << 20, length: guestBenchSize}}
				if err := runDump(context.Background(), o, img, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	p.Report(b, guestBenchSize)
}

// guestManyFiles is the number of files BenchmarkGuestList100k lists.
const guestManyFiles = 100_000

// BenchmarkGuestList100k: vmfsrecover ls -r of an ext4 partition holding
// 100,000 files in 100 folders against the Sleuth Kit's fls -r of the
// same partition (issue 15: a few seconds, bounded memory).
func BenchmarkGuestList100k(b *testing.B) {
	fls := testenv.Tool(b, "fls")
	img := guestBenchDisk(b, "guest-ext4-100k.img", 512<<20, func(dir string) error {
		for i := range guestManyFiles {
			sub := filepath.Join(dir, fmt.Sprintf("d%03d", i%100))
			if i < 100 {
				if err := os.Mkdir(sub, 0o755); err != nil {
					return err
				}
			}
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%06d.txt", i)), nil, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	benchpeer.Warm(b, img)
	g := &globalOptions{quiet: true}
	p := benchpeer.Pairs{Peer: "fls"}
	for b.Loop() {
		p.RunResults(func() benchpeer.Result {
			return benchpeer.InProcess(func() {
				null, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
				defer null.Close()
				if err := runLs(context.Background(), &lsOptions{globalOptions: g, recursive: true}, []string{img, "/p1"}, null); err != nil {
					b.Fatal(err)
				}
			})
		}, func() benchpeer.Result { return benchpeer.Proc(b, "", fls, "-r", "-o", "2048", img) })
	}
	p.Report(b, 0)
	b.ReportMetric(float64(guestManyFiles), "files")
}

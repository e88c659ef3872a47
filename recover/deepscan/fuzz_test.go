package deepscan

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmdk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// FuzzScanAndRebuild scans an arbitrary small disk and rebuilds whatever
// it claims to hold: hostile descriptors, self-addressed locks pointing
// anywhere, directory runs, texts. It must never panic or hang.
func FuzzScanAndRebuild(f *testing.F) {
	seed := make([]byte, 64<<10)
	binary.LittleEndian.PutUint32(seed[0x1000:], lockFD)
	binary.LittleEndian.PutUint64(seed[0x1004:], 0x1000)
	binary.LittleEndian.PutUint32(seed[0x1200:], 0x00000004)
	binary.LittleEndian.PutUint32(seed[0x120C:], 2)
	binary.LittleEndian.PutUint64(seed[0x121C:], 1<<20)
	copy(seed[0x3000:], "# Disk DescriptorFile\nRW 8 VMFS \"x-flat.vmdk\"\n")
	binary.LittleEndian.PutUint32(seed[0x4000:], 2)
	binary.LittleEndian.PutUint32(seed[0x4004:], 4)
	copy(seed[0x400C:], ".")
	binary.LittleEndian.PutUint32(seed[0x4000+140:], 2)
	binary.LittleEndian.PutUint32(seed[0x4004+140:], 4)
	copy(seed[0x400C+140:], "..")
	f.Add(seed)
	f.Fuzz(func(t *testing.T, disk []byte) {
		// Repeat the input so that structures meet the volume offsets they
		// record, then scan and rebuild.
		img := bytes.Repeat(disk, max(1, (5<<20)/max(len(disk), 1)))
		r := bytes.NewReader(img)
		fd := New("fuzz", "fuzz", int64(len(img)))
		if err := Scan(context.Background(), r, fd, Options{}); err != nil {
			t.Fatal(err)
		}
		vols, _ := Rebuild(r, fd)
		for _, v := range vols {
			walkTree(v.Tree)
		}
	})
}

func walkTree(t *Tree) {
	var walk func(n *tnode, depth int)
	walk = func(n *tnode, depth int) {
		if depth > 300 {
			panic("tree deeper than maxTreeDepth")
		}
		if n.data != nil {
			buf := make([]byte, 4096)
			n.data.ReadAt(buf, 0)
			n.data.AllocationMap()
		}
		for _, c := range n.children {
			walk(c, depth+1)
		}
	}
	walk(t.root, 0)
}

var (
	spanScanOnce sync.Once
	spanImages   []string
	spanScans    []*Findings
	spanScanErr  error
)

// patchedReader reads r with patch laid over it at off.
type patchedReader struct {
	r     io.ReaderAt
	off   int64
	patch []byte
}

func (p patchedReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	for i := range b[:n] {
		if k := off + int64(i) - p.off; k >= 0 && k < int64(len(p.patch)) {
			b[i] = p.patch[k]
		}
	}
	return n, err
}

// FuzzRebuildSpanned rebuilds the generator's two-disk VMFS6 volume from
// findings of its intact disks, while one disk reads with fuzzed bytes in
// its first 64 MiB (LVM header, PE tables, file-system metadata): the
// span assembly, the rebuild across disks and the per-file accounting
// meet metadata that changed under them. Only the rebuild runs per input,
// so the fuzzer gets thousands of tries where a whole scan gets a few.
func FuzzRebuildSpanned(f *testing.F) {
	f.Add(uint8(0), uint32(0x100000+0x90), []byte{9, 0, 0, 0})
	f.Add(uint8(1), uint32(0x100000+0x200), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add(uint8(0), uint32(0x1100000+0x200000), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, which uint8, at uint32, patch []byte) {
		spanScanOnce.Do(func() {
			for _, fx := range vmfstest.Fixtures(false) {
				if fx.Spec.Version != 6 || fx.Spec.Extents != 2 {
					continue
				}
				dir, err := os.MkdirTemp("", "deepscan-fuzz-span-")
				if err != nil {
					spanScanErr = err
					return
				}
				res, err := vmfstest.Write(filepath.Join(dir, "span.img"), fx.Spec)
				if err != nil {
					spanScanErr = err
					return
				}
				spanImages = res.Images
				for _, img := range res.Images {
					file, err := os.Open(img)
					if err != nil {
						spanScanErr = err
						return
					}
					fi, _ := file.Stat()
					fd := New(img, "", fi.Size())
					spanScanErr = Scan(context.Background(), file, fd, Options{})
					file.Close()
					if spanScanErr != nil {
						return
					}
					spanScans = append(spanScans, fd)
				}
			}
		})
		if spanScanErr != nil || len(spanScans) != 2 {
			t.Fatalf("spanned fixture: %v (%d scans)", spanScanErr, len(spanScans))
		}
		readers := make([]io.ReaderAt, len(spanImages))
		bad := make([]allocmap.Map, len(spanImages))
		for i, img := range spanImages {
			file, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			readers[i] = file
			if i == int(which)%2 {
				readers[i] = patchedReader{file, int64(at) % (64 << 20), patch}
			}
		}
		spans, _ := spannedVolumes(readers, spanScans)
		for i, fd := range spanScans {
			for _, v := range rebuild(readers[i], fd, &layout{src: i, bad: bad, spans: spans[i]}) {
				walkTree(v.Tree)
			}
		}
	})
}

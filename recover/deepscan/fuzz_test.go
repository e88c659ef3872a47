package deepscan

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/fingerprint"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
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
	// Written once per fuzz target into its own folder, which goes with it.
	var (
		spanScanOnce sync.Once
		spanImages   []string
		spanScans    []*Findings
		spanScanErr  error
	)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, at uint32, patch []byte) {
		spanScanOnce.Do(func() {
			for _, fx := range vmfstest.Fixtures(false) {
				if fx.Spec.Version != 6 || fx.Spec.Extents != 2 {
					continue
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

// FuzzNameGroup names a nameless descriptor and a nameless file of a
// directory from a fuzzed descriptor text, size and extent header: the
// file is named only when an extent line gives exactly its size or
// capacity.
func FuzzNameGroup(f *testing.F) {
	f.Add([]byte("# Disk DescriptorFile\nRW 8192 VMFS \"vm-flat.vmdk\"\n"), int64(8192*512), []byte{})
	f.Add([]byte("# Disk DescriptorFile\nRW 8192 SESPARSE \"vm-000001-sesparse.vmdk\"\n"), int64(1<<20), seSparseHead(8192)[:64])
	f.Add([]byte(".encoding = \"UTF-8\"\ndisplayName = \"web/../01\"\n"), int64(0), []byte("COWD\x01\x00\x00\x00\x03\x00\x00\x00\x00\x20\x00\x00\x00\x01\x00\x00\x04\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, text []byte, size int64, head []byte) {
		d := &nameless{h: FDHit{FDInfo: vmfs.FDInfo{Addr: 1, SelfOffset: 0x1000}}, text: textKind(text), body: textBody(text)}
		x := &nameless{h: FDHit{FDInfo: vmfs.FDInfo{Addr: 2, SelfOffset: 0x2000}}, size: size}
		x.sparse, x.capacity, _ = vmdk.SparseCapacity(head)
		out := map[int64]inferredName{}
		nameGroup([]*nameless{x, d}, out)
		in, named := out[0x2000]
		if !named {
			return
		}
		desc, err := vmdk.ParseDescriptor(d.body)
		if err != nil || in.name == "" || in.from == "" {
			t.Fatalf("named %+v from %q (parse error %v)", in, d.body, err)
		}
		for _, e := range desc.Extents {
			if path.Base(e.File) == in.name && extentFits(e, x) {
				return
			}
		}
		t.Fatalf("named %q, but no extent line of %q fits size %d / %s capacity %d", in.name, d.body, size, x.sparse, x.capacity)
	})
}

// FuzzLoadScanFile loads an arbitrary scan file, checks it against a
// disk of its size as Run does before trusting it, and rebuilds volumes
// from what it claims: a scan file is input like any other (copied from
// another host, truncated, edited) and must never panic, hang or make
// memory follow a number it states.
func FuzzLoadScanFile(f *testing.F) {
	disk := make([]byte, 6<<20)
	binary.LittleEndian.PutUint32(disk[0x300000:], lockFD)
	binary.LittleEndian.PutUint64(disk[0x300004:], 0x100000)
	seed := New("seed", "0123456789abcdef-0123456789abcdef", int64(len(disk)))
	if err := Scan(context.Background(), bytes.NewReader(disk), seed, Options{}); err != nil {
		f.Fatal(err)
	}
	seed.Anchors = append(seed.Anchors, Anchor{Offset: 0x300000, Len: 512, Kind: "file descriptor", SHA256: anchorSum(disk[0x300000:0x300200])})
	seed.LVM = append(seed.LVM, LVMHit{Partition: 0, Major: 6, Logical: 1 << 30, Origin: 0x1100000})
	seed.FDs = append(seed.FDs, FDHit{Offset: 0x300000, FDInfo: vmfs.FDInfo{Addr: 4, SelfOffset: 0x200000, Type: "directory"}})
	b, _ := json.Marshal(seed)
	f.Add(b)
	f.Add([]byte(`{"format":2,"size":1,"done":1,"anchors":[{"offset":0,"len":1099511627776}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "scan.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := Load(path)
		if err != nil {
			return
		}
		fd.Summary()
		if fd.Size > int64(len(disk)) {
			return // Run uses a scan file only for a source of its size
		}
		r := bytes.NewReader(disk[:fd.Size])
		fp, err := fingerprint.Take(r, fd.Size)
		if err != nil {
			t.Fatal(err)
		}
		fd.Identity = fp.ID() // as Run finds it: by its name
		fd.changed(r, fp, nil)
		vols, _ := Rebuild(r, fd)
		for _, v := range vols {
			walkTree(v.Tree)
		}
	})
}

package vmfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// splitVolume turns a generated single-device volume of two 256 MiB PEs
// into two devices of one PE each, the way a datastore grown onto a second
// LUN looks: the first keeps PE 0, the second carries PE 1 with an LVM
// header of its own. It returns the two device images.
func splitVolume(t *testing.T, version int) (want, lun1, lun2 string) {
	t.Helper()
	dir := t.TempDir()
	res, err := vmfstest.Write(filepath.Join(dir, "whole.img"), vmfstest.Spec{Version: version, Label: "span", Size: 512 << 20, Files: []vmfstest.Entry{
		{Path: "big-flat.vmdk", Size: 300 << 20, Seed: 1, Holes: []vmfstest.Range{{Off: 1 << 20, Len: 250 << 20}}},
		{Path: "vm/notes.txt", Data: []byte("spanned\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.VolumeSize != 512<<20 || res.PartitionOffset != 0 {
		t.Fatalf("generated volume of %d bytes at %d, want 512 MiB bare", res.VolumeSize, res.PartitionOffset)
	}
	src, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	const data, pe = 0x1100000, 256 << 20
	header := make([]byte, data) // everything before the first PE
	if _, err := src.ReadAt(header, 0); err != nil {
		t.Fatal(err)
	}
	md, bitmap, le := int64(512), int64(1024), binary.LittleEndian
	if version == 6 {
		md, bitmap = 0x1000, 0x1000
	}
	vd := 0x100000 + md                     // volume descriptor (vmfs.md: "LVM device header")
	table := vd + 0x7E000 + 0x2000 + bitmap // after the SD table and the PE bitmap
	patch := func(img []byte, first, last uint64, logical int64, devID byte) {
		le.PutUint32(img[vd+0x74:], 1)
		le.PutUint64(img[vd+0x78:], first)
		le.PutUint64(img[vd+0x80:], last)
		le.PutUint32(img[vd+0x90:], 2)
		le.PutUint32(img[0x100000+0x6A:], 1) // one PE entry on this device
		img[0x100000+0x82] = devID
		clear(img[table : table+8192*128])
		e := img[table:]
		e[0] = 1
		le.PutUint64(e[0x09:], data)
		le.PutUint64(e[0x11:], uint64(logical))
		le.PutUint64(e[0x19:], pe)
	}
	h1 := append([]byte(nil), header...)
	patch(h1, 0, 0, 0, 0xA1)
	h2 := make([]byte, data)
	copy(h2[0x100000:], header[0x100000:])
	patch(h2, 1, 1, pe, 0xA2)
	p1, p2 := filepath.Join(dir, "lun1.img"), filepath.Join(dir, "lun2.img")
	writeSparse(t, p1, h1, io.NewSectionReader(src, data, pe))
	writeSparse(t, p2, h2, io.NewSectionReader(src, data+pe, pe))
	want, err = res.Expected()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(res.Image)
	return want, p1, p2
}

// writeSparse writes header, then the bytes of rest, skipping zero blocks.
func writeSparse(t *testing.T, path string, header []byte, rest *io.SectionReader) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := io.MultiReader(bytes.NewReader(header), rest)
	buf, zero := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			f.WriteAt(buf[:n], off)
		}
		off += int64(n)
		if err != nil {
			break
		}
	}
	f.Truncate(off)
}

func TestSpannedVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: reads hundreds of MiB; make test runs it in its second, race-free pass")
	}
	for _, v := range []int{5, 6} {
		want, p1, p2 := splitVolume(t, v)
		d1, d2 := openImage(t, p1), openImage(t, p2)
		for _, order := range [][]Device{{d1, d2}, {d2, d1}} {
			vol, err := Open(order, Options{})
			if err != nil {
				t.Fatalf("VMFS%d: %v", v, err)
			}
			got, err := listing(vol)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("VMFS%d spanned listing differs\n%s", v, diffLines(got, want))
			}
		}
		// Grouping finds one volume of two extents.
		var cands []Candidate
		for i, d := range []Device{d2, d1} {
			c, _, err := Find(d, d.Size(), FindOptions{})
			if err != nil || len(c) != 1 {
				t.Fatalf("Find on device %d: %v, %v", i, c, err)
			}
			c[0].Disk = i
			cands = append(cands, c...)
		}
		if sets := Group(cands); len(sets) != 1 || len(sets[0].Extents) != 2 || sets[0].Missing != 0 {
			t.Fatalf("Group = %+v", sets)
		}
		// Without the second LUN: a clear error, or zeros when tolerant.
		if _, err := Open([]Device{d1}, Options{}); !errors.Is(err, ErrExtentMissing) {
			t.Fatalf("VMFS%d: one extent missing: err = %v", v, err)
		}
		vol, err := Open([]Device{d1}, Options{Tolerant: true})
		if err != nil {
			t.Fatalf("VMFS%d tolerant: %v", v, err)
		}
		if len(vol.Anomalies()) == 0 {
			t.Errorf("VMFS%d tolerant open records no anomaly", v)
		}
		f, err := vol.Open("big-flat.vmdk")
		if err != nil {
			t.Fatal(err)
		}
		file := f.(*File)
		m, _ := file.AllocationMap()
		checked := false
		for _, r := range m {
			for off := r.Off; off < r.End(); off += 1 << 20 {
				if loc, hole, err := file.Locate(off); err == nil && !hole && loc >= 256<<20 {
					buf := make([]byte, 4096)
					if _, err := file.ReadAt(buf, off); err != nil || !bytes.Equal(buf, make([]byte, 4096)) {
						t.Errorf("VMFS%d: bytes on the missing extent: %v", v, err)
					}
					checked = true
				}
			}
		}
		if !checked {
			t.Errorf("VMFS%d: no block of big-flat.vmdk on the second extent", v)
		}
	}
}

package ntfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

func openBytes(t *testing.T, img []byte) *FS {
	t.Helper()
	v, err := Open(bytes.NewReader(img), int64(len(img)), guestfs.Options{Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// attrOffset returns the offset in img of the first attribute of type typ
// in the MFT record of name (0xFFFFFFFF: the end marker).
func attrOffset(t *testing.T, img []byte, name string, typ uint32) (rec, attr int64) {
	t.Helper()
	v := openBytes(t, img)
	n, err := v.resolve("test", name, false)
	if err != nil {
		t.Fatal(err)
	}
	rec = v.recordOffset(n.id)
	for a := rec + int64(binary.LittleEndian.Uint16(img[rec+0x14:])); ; {
		at := binary.LittleEndian.Uint32(img[a:])
		if at == typ {
			return rec, a
		}
		if at == 0xFFFFFFFF {
			t.Fatalf("%s: no attribute %#x", name, typ)
		}
		a += int64(binary.LittleEndian.Uint32(img[a+4:]))
	}
}

func names(t *testing.T, v *FS) []string {
	t.Helper()
	got, bad := listing(v)
	if bad != nil {
		t.Fatal(bad)
	}
	return got
}

// TestBackupHeads: a zeroed boot sector (the head ransomware wipes) is
// replaced by its backup in the volume's last sector, a destroyed first
// $MFT record by $MFTMirr's copy, each said in Warnings.
func TestBackupHeads(t *testing.T) {
	base := loadSmall(t)
	want := names(t, openBytes(t, base))
	v := openBytes(t, base)
	mftOff := v.boot.mftCluster * v.boot.clusterSize
	for _, c := range []struct {
		name  string
		zero  [][2]int64
		warns []string
	}{
		{"boot sector", [][2]int64{{0, 8192}}, []string{"backup at offset 0x1ffe00"}},
		{"MFT record 0", [][2]int64{{mftOff, 1024}}, []string{"taken from $MFTMirr"}},
		{"both", [][2]int64{{0, 8192}, {mftOff, 1024}}, []string{"backup", "$MFTMirr"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := slices.Clone(base)
			for _, z := range c.zero {
				clear(img[z[0] : z[0]+z[1]])
			}
			v := openBytes(t, img)
			w := strings.Join(v.Warnings(), "\n")
			for _, s := range c.warns {
				if !strings.Contains(w, s) {
					t.Errorf("warnings %q do not say %q", w, s)
				}
			}
			if got := names(t, v); !slices.Equal(got, want) {
				t.Errorf("lists %q, want %q", got, want)
			}
		})
	}
	img := slices.Clone(base)
	clear(img[:8192])
	clear(img[len(img)-512:])
	_, err := Open(bytes.NewReader(img), int64(len(img)), guestfs.Options{})
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrNotNTFS) || fe.Off != 0 {
		t.Errorf("both boot sectors zeroed: %v, want ErrNotNTFS at offset 0", err)
	}
}

func wantFormatError(t *testing.T, err error, class error, structure string, off int64) {
	t.Helper()
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, class) || !strings.Contains(fe.Struct, structure) || (off >= 0 && fe.Off != off) {
		t.Errorf("error %v; want a FormatError of class %v on %q at offset %#x", err, class, structure, off)
	}
}

// TestHostileRuns: run lists and sizes that claim more than the volume
// holds are errors naming the record, not reads of terabytes.
func TestHostileRuns(t *testing.T) {
	base := loadSmall(t)
	_, data := attrOffset(t, base, "a.bin", attrData)
	runs := data + int64(binary.LittleEndian.Uint16(base[data+0x20:]))
	for _, c := range []struct {
		name  string
		patch func(img []byte)
		want  string
	}{
		{"run beyond the volume", func(img []byte) {
			img[runs] = 0x42 // 2 length bytes, 4 offset bytes
			binary.LittleEndian.PutUint16(img[runs+1:], 20)
			binary.LittleEndian.PutUint32(img[runs+3:], 0x7FFFFFF0)
			img[runs+7] = 0
		}, "$DATA"},
		{"run of a terabyte", func(img []byte) {
			img[runs] = 0x18 // 8 length bytes, 1 offset byte
			binary.LittleEndian.PutUint64(img[runs+1:], 1<<40)
			img[runs+9] = 0x40
			img[runs+10] = 0
		}, "$DATA"},
		{"last VCN far beyond the runs", func(img []byte) {
			binary.LittleEndian.PutUint64(img[data+0x18:], 1<<40)
		}, "$DATA"},
		{"size beyond the runs", func(img []byte) {
			binary.LittleEndian.PutUint64(img[data+0x30:], 1<<50)
		}, "$DATA"},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := slices.Clone(base)
			c.patch(img)
			v := openBytes(t, img)
			f, err := v.Open("a.bin")
			if err == nil {
				_, err = io.Copy(io.Discard, f.(io.Reader))
			}
			wantFormatError(t, err, ErrCorrupt, c.want, -1)
			if _, err := v.ReadDir("."); err != nil {
				t.Errorf("the root lists no more: %v", err)
			}
		})
	}
}

// TestDamagedIndex: an index block without its signature, or torn (an
// update sequence mismatch), fails the directory with the block's offset;
// a destroyed or torn file record leaves its entry out with a warning.
func TestDamagedIndex(t *testing.T) {
	base := loadSmall(t)
	v := openBytes(t, base)
	n, err := v.resolve("test", "d", false)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := v.record(n.id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := v.openStream(rec.pieces(attrIndexAllocation, "$I30"), "test")
	if err != nil {
		t.Fatal(err)
	}
	block := blockOffset(s, 0)
	for _, c := range []struct {
		name string
		at   int64
		off  int64
	}{
		{"signature", block, block},
		{"torn", block + 510, block + 510},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := slices.Clone(base)
			img[c.at] ^= 0xFF
			_, err := openBytes(t, img).ReadDir("d")
			wantFormatError(t, err, ErrCorrupt, "$I30 block 0", c.off)
		})
	}
	img := slices.Clone(base)
	sRec, _ := attrOffset(t, img, "s.txt", attrData)
	copy(img[sRec:], "BAAD")
	v = openBytes(t, img)
	if _, err := v.Stat("s.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a file whose record is destroyed: %v", err)
	}
	if w := strings.Join(v.Warnings(), "\n"); !strings.Contains(w, "no FILE signature") {
		t.Errorf("warnings %q do not name the destroyed record", w)
	}
	img = slices.Clone(base)
	img[sRec+510] ^= 0xFF // a torn write: the first sector's update sequence number
	v = openBytes(t, img)
	if _, err := v.Stat("s.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a file whose record is torn: %v", err)
	}
	if w := strings.Join(v.Warnings(), "\n"); !strings.Contains(w, fmt.Sprintf("at offset %#x: update sequence mismatch in sector 1", sRec+510)) {
		t.Errorf("warnings %q do not name the torn sector", w)
	}
}

// TestDataElsewhere: a file whose reparse point says its data is not in
// its unnamed stream (WOF compression, deduplication, a cloud placeholder)
// is listed, but opening it is ErrUnsupported rather than its stream's
// bytes passing for its content.
func TestDataElsewhere(t *testing.T) {
	base := loadSmall(t)
	for _, tag := range []uint32{tagWOF, tagDedup, 0x9000601A} {
		img := slices.Clone(base)
		rec, _ := attrOffset(t, img, "a.bin", attrData)
		_, end := attrOffset(t, img, "a.bin", 0xFFFFFFFF)
		// A resident $REPARSE_POINT of an empty reparse buffer, where the
		// end marker was (attributes are in type order; 0xC0 is last).
		a := make([]byte, 0x20)
		binary.LittleEndian.PutUint32(a[0:], attrReparsePoint)
		binary.LittleEndian.PutUint32(a[4:], 0x20)
		binary.LittleEndian.PutUint16(a[0x0A:], 0x18)
		binary.LittleEndian.PutUint16(a[0x0E:], 9)
		binary.LittleEndian.PutUint32(a[0x10:], 8)
		binary.LittleEndian.PutUint16(a[0x14:], 0x18)
		binary.LittleEndian.PutUint32(a[0x18:], tag)
		copy(img[end:], a)
		binary.LittleEndian.PutUint64(img[end+0x20:], 0xFFFFFFFF)
		binary.LittleEndian.PutUint32(img[rec+0x18:], uint32(end-rec+0x28))
		v := openBytes(t, img)
		if _, err := v.Stat("a.bin"); err != nil {
			t.Errorf("tag %#x: Stat: %v", tag, err)
		}
		_, err := v.Open("a.bin")
		wantFormatError(t, err, ErrUnsupported, "MFT record", rec)
	}
}

package ntfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// listing walks v and reads every file: the names with their sizes, and
// the first error that is not a FormatError (a property violation).
func listing(v *FS) (names []string, bad error) {
	fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !isFormatError(err) {
				bad = errors.Join(bad, err)
			}
			return nil
		}
		names = append(names, p)
		if d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, _ := d.Info()
		f, err := v.Open(p)
		if err != nil {
			if !isFormatError(err) {
				bad = errors.Join(bad, err)
			}
			return nil
		}
		defer f.Close()
		n, err := io.Copy(io.Discard, io.LimitReader(f, 64<<20))
		switch {
		case err != nil && !isFormatError(err):
			bad = errors.Join(bad, err)
		case err == nil && n != min(info.Size(), 64<<20):
			bad = errors.Join(bad, &fs.PathError{Op: "read", Path: p, Err: errors.New("short read without an error")})
		case err == nil:
			if err := holesReadZeros(f.(*File), min(info.Size(), 1<<20)); err != nil {
				bad = errors.Join(bad, &fs.PathError{Op: "read", Path: p, Err: err})
			}
		}
		return nil
	})
	return names, bad
}

// holesReadZeros checks the first n bytes of f: what its allocation map
// leaves out reads as zeros, as allocmap.Mapper promises.
func holesReadZeros(f *File, n int64) error {
	m, err := f.AllocationMap()
	if err != nil {
		return err
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil // a FormatError, which the sequential read would have met
	}
	for _, r := range m {
		clear(b[min(r.Off, n):min(r.End(), n)])
	}
	if i := slices.IndexFunc(b, func(c byte) bool { return c != 0 }); i >= 0 {
		return fmt.Errorf("byte %d is outside the allocation map but reads %#x", i, b[i])
	}
	return nil
}

func isFormatError(err error) bool {
	var fe *ondisk.FormatError
	return errors.As(err, &fe)
}

// FuzzOpen patches the small image anywhere in its first 512 KiB (boot
// sector, $MFT, index blocks, file data) and checks the property every
// reader keeps: it opens or fails with a FormatError, and every file it
// lists reads its Size bytes or fails with a FormatError; unpatched, it
// lists what it lists on the clean image.
func FuzzOpen(f *testing.F) {
	base := loadSmall(f)
	clean, err := Open(bytes.NewReader(base), int64(len(base)), guestfs.Options{Deleted: true})
	if err != nil {
		f.Fatal(err)
	}
	want, bad := listing(clean)
	if bad != nil || len(want) < 40 {
		f.Fatalf("clean image: %d names, %v", len(want), bad)
	}
	f.Add(uint32(0), []byte{})
	f.Add(uint32(0x10), []byte{0xFF})      // a boot sector field
	f.Add(uint32(16*1024+0x48), []byte{9}) // $MFT's record 0
	f.Add(uint32(16*1024+5*1024+0x100), []byte{0xFF, 0xFF, 0xFF, 0x7F})
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		img := slices.Clone(base)
		copy(img[int(off)%(512<<10):], patch)
		v, err := Open(bytes.NewReader(img), int64(len(img)), guestfs.Options{Deleted: true})
		if err != nil {
			if !isFormatError(err) {
				t.Fatalf("Open: %v is not a FormatError", err)
			}
			return
		}
		got, bad := listing(v)
		if bad != nil {
			t.Fatal(bad)
		}
		if len(patch) == 0 && !slices.Equal(got, want) {
			t.Fatalf("unpatched image lists %q, want %q", got, want)
		}
	})
}

// FuzzDecompressUnit feeds LZNT1 units to the decoder (the library's
// LZNT1Decompress, chunk by chunk): it never panics nor writes past the
// unit, and data stored as uncompressed chunks (header 0x3FFF: 4096 bytes,
// no compression bit) comes back unchanged, whatever the fuzzer puts in a
// compressed chunk after them.
func FuzzDecompressUnit(f *testing.F) {
	f.Add([]byte("plain text"), []byte{0x05, 0xB0, 0x00, 'a', 'b', 'c'})
	f.Add([]byte{}, []byte{0x0F, 0xB0, 0x02, 'a', 'b', 0x01, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, plain, comp []byte) {
		plain = plain[:min(len(plain), 3*4096)]
		chunks := (len(plain) + 4095) / 4096
		var src []byte
		for i := range chunks {
			c := make([]byte, 4096)
			copy(c, plain[i*4096:])
			src = append(append(src, 0xFF, 0x3F), c...)
		}
		src = append(src, comp...)
		dst := make([]byte, 16*4096+7) // a canary byte past a 64 KiB unit
		dst[len(dst)-1] = 0xAA
		err := decompressUnit(dst[:16*4096], src)
		if dst[len(dst)-1] != 0xAA {
			t.Fatal("decoder wrote past the unit")
		}
		if err == nil || chunks > 0 {
			if !bytes.Equal(dst[:len(plain)], plain) {
				t.Fatalf("stored chunks read back differently")
			}
		}
	})
}

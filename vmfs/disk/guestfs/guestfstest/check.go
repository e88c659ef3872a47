package guestfstest

import (
	"bytes"
	"io"
	"io/fs"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// CheckFile opens file p of fsys and checks that it reads its size (up to
// max bytes) or fails with an error expected says it may; that one ReadAt
// and Reads of 777 bytes read the same; that its allocation map is valid
// and what the map leaves out reads as zeros. A file that does not open
// with an expected error is left alone.
func CheckFile(t testing.TB, fsys fs.FS, p string, max int64, expected func(error) bool) {
	t.Helper()
	fl, err := fsys.Open(p)
	if err != nil {
		if !expected(err) {
			t.Fatalf("open %s: %v", p, err)
		}
		return
	}
	defer fl.Close()
	fi, err := fl.Stat()
	if err != nil {
		t.Fatalf("%s: Stat of an open file: %v", p, err)
	}
	if fi.IsDir() {
		return // a symbolic link to a directory, followed
	}
	n := min(fi.Size(), max)
	whole := make([]byte, n)
	got, err := fl.(io.ReaderAt).ReadAt(whole, 0)
	if err != nil && err != io.EOF {
		if !expected(err) {
			t.Fatalf("%s: ReadAt: %v", p, err)
		}
		return
	}
	if int64(got) != n {
		t.Fatalf("%s: ReadAt read %d of %d bytes", p, got, n)
	}
	var chunks []byte
	buf := make([]byte, 777)
	for int64(len(chunks)) < n {
		k, err := fl.Read(buf[:min(int64(len(buf)), n-int64(len(chunks)))])
		chunks = append(chunks, buf[:k]...)
		if err != nil {
			break
		}
	}
	if !bytes.Equal(chunks, whole) {
		t.Fatalf("%s: Read in chunks and ReadAt differ", p)
	}
	m, err := fl.(allocmap.Mapper).AllocationMap()
	if err != nil {
		t.Fatalf("%s: AllocationMap: %v", p, err)
	}
	if err := m.Validate(fi.Size()); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	var at int64
	for _, r := range append(m.Clip(n), allocmap.Range{Off: n}) {
		if r.Off > at && !bytes.Equal(whole[at:r.Off], make([]byte, r.Off-at)) {
			t.Fatalf("%s: bytes %d-%d outside the allocation map are not zeros", p, at, r.Off)
		}
		at = r.End()
	}
}

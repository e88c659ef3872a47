package fsread

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"testing"
	"testing/fstest"
)

// forwardFS hands out files that only Read (and Seek, when seek is set),
// counting how often each was opened.
type forwardFS struct {
	fstest.MapFS
	seek  bool
	opens int
}

type readOnly struct{ f fs.File }

func (r readOnly) Stat() (fs.FileInfo, error) { return r.f.Stat() }
func (r readOnly) Read(p []byte) (int, error) { return r.f.Read(p) }
func (r readOnly) Close() error               { return r.f.Close() }

type seeker struct{ readOnly }

func (s seeker) Seek(off int64, whence int) (int64, error) {
	return s.f.(io.Seeker).Seek(off, whence)
}

func (f *forwardFS) Open(name string) (fs.File, error) {
	file, err := f.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	f.opens++
	if f.seek {
		return seeker{readOnly{file}}, nil
	}
	return readOnly{file}, nil
}

// TestReaderAt reads a file without ReadAt at offsets forward, backward,
// past the end and across it, and compares with the bytes.
func TestReaderAt(t *testing.T) {
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, seek := range []bool{false, true} {
		fsys := &forwardFS{MapFS: fstest.MapFS{"f": {Data: data}}, seek: seek}
		f, err := fsys.Open("f")
		if err != nil {
			t.Fatal(err)
		}
		ra := ReaderAt(fsys, "f", f)
		for _, c := range []struct {
			off int64
			n   int
		}{{0, 100}, {5000, 10}, {100, 50}, {9990, 10}, {0, 1}, {9995, 10}, {20000, 5}} {
			p := make([]byte, c.n)
			n, err := ra.ReadAt(p, c.off)
			want := data[min(c.off, int64(len(data))):min(c.off+int64(c.n), int64(len(data)))]
			if !bytes.Equal(p[:n], want) {
				t.Errorf("seek %v: ReadAt(%d, %d): %d bytes differ", seek, c.n, c.off, n)
			}
			if short := n < c.n; short != errors.Is(err, io.EOF) {
				t.Errorf("seek %v: ReadAt(%d, %d): %d bytes, error %v", seek, c.n, c.off, n, err)
			}
		}
		if _, err := ra.ReadAt(make([]byte, 1), -1); err == nil {
			t.Error("a negative offset was read")
		}
		ra.(io.Closer).Close()
		f.Close()
		if wantOpens := map[bool]int{false: 3, true: 1}[seek]; fsys.opens != wantOpens {
			t.Errorf("seek %v: opened %d times, want %d", seek, fsys.opens, wantOpens)
		}
	}
	mapped := fstest.MapFS{"f": {Data: data}}
	f, _ := mapped.Open("f")
	if ra := ReaderAt(mapped, "f", f); ra != f.(io.ReaderAt) {
		t.Error("a file with ReadAt is not used as it is")
	}
}

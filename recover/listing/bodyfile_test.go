package listing

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"
)

// deletedFinding is a deep-scan finding of a deleted file (as
// deepscan.Finding, which listing cannot import).
type deletedFinding struct{ *attrs }

func (deletedFinding) Provenance() string { return "deleted" }

// attrs stands for *vmfs.Attributes, which listing cannot import either
// (vmfs's tests import listing).
type attrs struct {
	fd, uid, gid     uint32
	atime, mtime, ct time.Time
}

func (a *attrs) Inode() uint64                            { return uint64(a.fd) }
func (a *attrs) Owner() (uint32, uint32)                  { return a.uid, a.gid }
func (a *attrs) Times() (time.Time, time.Time, time.Time) { return a.atime, a.mtime, a.ct }

func TestBodyfileLine(t *testing.T) {
	mt := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	fsys := fstest.MapFS{
		"dir/a|b\nc": {Data: []byte("12345"), Mode: 0o640, ModTime: mt},
		"dir/link":   {Data: []byte("target"), Mode: fs.ModeSymlink | 0o777, ModTime: mt},
	}
	e, err := Describe(fsys, "dir/a|b\nc", false)
	if err != nil {
		t.Fatal(err)
	}
	a := &attrs{fd: 0x400004, uid: 7, gid: 8, mtime: mt, atime: mt.Add(time.Hour), ct: mt.Add(2 * time.Hour)}
	e.Attrs = a
	if got, want := e.Bodyfile(), "0|/dir/a^b^c|4194308|r/rrw-r-----|7|8|5|1704168245|1704164645|1704171845|0"; got != want {
		t.Errorf("file:\n got %s\nwant %s", got, want)
	}
	e.Attrs = deletedFinding{a}
	if got, want := e.Bodyfile(), "0|/dir/a^b^c (deleted)|4194308|r/rrw-r-----|7|8|5|1704168245|1704164645|1704171845|0"; got != want {
		t.Errorf("deleted:\n got %s\nwant %s", got, want)
	}
	l, err := Describe(fsys, "dir/link", false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Bodyfile(), "0|/dir/link -> target|0|l/lrwxrwxrwx|0|0|6|0|1704164645|0|0"; got != want {
		t.Errorf("link without attributes:\n got %s\nwant %s", got, want)
	}
}

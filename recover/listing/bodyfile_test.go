package listing

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs"
)

type deletedFinding struct{ a *vmfs.Attributes }

func (deletedFinding) Provenance() string                 { return "deleted" }
func (d deletedFinding) VMFSAttributes() *vmfs.Attributes { return d.a }

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
	a := &vmfs.Attributes{FD: 0x400004, UID: 7, GID: 8, MTime: mt, ATime: mt.Add(time.Hour), CTime: mt.Add(2 * time.Hour)}
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

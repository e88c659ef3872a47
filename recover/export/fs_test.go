package export

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing/fstest"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// testFS is a small in-memory volume: fstest.MapFS plus what a VMFS volume's
// files offer (io.ReaderAt, allocmap.Mapper, Provenancer), read errors at
// chosen offsets, and directory entries that no healthy volume would hold.
type testFS struct {
	fstest.MapFS
	alloc  map[string]allocmap.Map
	prov   map[string]string
	warn   map[string][]string
	failAt map[string]int64         // ReadAt fails at or past this offset
	extra  map[string][]fs.DirEntry // bogus entries added to ReadDir
	reads  map[string]*int64        // bytes read per file, when set
}

func newTestFS() *testFS {
	return &testFS{
		MapFS:  fstest.MapFS{},
		alloc:  map[string]allocmap.Map{},
		prov:   map[string]string{},
		warn:   map[string][]string{},
		failAt: map[string]int64{},
		extra:  map[string][]fs.DirEntry{},
		reads:  map[string]*int64{},
	}
}

var testTime = time.Date(2019, 3, 14, 15, 9, 26, 0, time.UTC)

func (t *testFS) file(name string, data []byte) {
	t.MapFS[name] = &fstest.MapFile{Data: data, Mode: 0o644, ModTime: testTime}
}

func (t *testFS) link(name, target string) {
	t.MapFS[name] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777, ModTime: testTime}
}

func (t *testFS) Open(name string) (fs.File, error) {
	f, err := t.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		return f, err
	}
	tf := &testFile{File: f, fs: t, name: name}
	if m, ok := t.alloc[name]; ok {
		return &mappedFile{testFile: tf, m: m}, nil
	}
	return tf, nil
}

func (t *testFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := t.MapFS.ReadDir(name)
	return append(ents, t.extra[name]...), err
}

type testFile struct {
	fs.File
	fs   *testFS
	name string
}

func (f *testFile) ReadAt(p []byte, off int64) (int, error) {
	if at, ok := f.fs.failAt[f.name]; ok && off+int64(len(p)) > at {
		n := max(0, int(at-off))
		copy(p, f.fs.MapFS[f.name].Data[off:off+int64(n)])
		return n, fmt.Errorf("simulated bad sector at %d: %w", at, errIO)
	}
	n, err := f.File.(io.ReaderAt).ReadAt(p, off)
	if c := f.fs.reads[f.name]; c != nil {
		*c += int64(n)
	}
	return n, err
}

func (f *testFile) Provenance() string { return f.fs.prov[f.name] }
func (f *testFile) Warnings() []string { return f.fs.warn[f.name] }

type mappedFile struct {
	*testFile
	m allocmap.Map
}

func (f *mappedFile) AllocationMap() (allocmap.Map, error) { return f.m, nil }

var errIO = errors.New("input/output error")

// badEntry is a directory entry with any name, as a damaged volume may hold.
type badEntry struct{ name string }

func (e badEntry) Name() string               { return e.name }
func (e badEntry) IsDir() bool                { return false }
func (e badEntry) Type() fs.FileMode          { return 0 }
func (e badEntry) Info() (fs.FileInfo, error) { return nil, fs.ErrNotExist }

package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// harness is what the conformance suite needs from one destination kind.
type harness struct {
	dest  Destination
	links bool // symbolic links are recreated
	// mtime returns a file's modification time, or false when the
	// destination does not keep it.
	mtime func(t *testing.T, name string) (time.Time, bool)
	// dirTimes: directories get their source's modification time too.
	dirTimes bool
	// at returns the same server or folder with the destination in dir,
	// a folder below the harness's own that does not exist yet.
	at func(t *testing.T, dir string) Destination
}

// runConformance is the exporter suite every destination passes.
func runConformance(t *testing.T, newHarness func(t *testing.T) *harness) {
	t.Run("Tree", func(t *testing.T) { testTree(t, newHarness(t)) })
	t.Run("Rerun", func(t *testing.T) { testRerun(t, newHarness(t)) })
	t.Run("ResumePartial", func(t *testing.T) { testResumePartial(t, newHarness(t)) })
	t.Run("UnsafeNames", func(t *testing.T) { testUnsafeNames(t, newHarness(t)) })
	t.Run("NoOverwrite", func(t *testing.T) { testNoOverwrite(t, newHarness(t)) })
	t.Run("Symlinks", func(t *testing.T) { testSymlinks(t, newHarness(t)) })
	t.Run("VerifyDetects", func(t *testing.T) { testVerifyDetects(t, newHarness(t)) })
	t.Run("Parallel", func(t *testing.T) { testParallel(t, newHarness(t)) })
	t.Run("SinglePath", func(t *testing.T) { testSinglePath(t, newHarness(t)) })
	t.Run("ReadBack", func(t *testing.T) { testReadBack(t, newHarness(t)) })
	t.Run("RerunRepairs", func(t *testing.T) { testRerunRepairs(t, newHarness(t)) })
	t.Run("VerifyGrown", func(t *testing.T) { testVerifyGrown(t, newHarness(t)) })
	t.Run("MissingFolder", func(t *testing.T) { testMissingFolder(t, newHarness(t)) })
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sampleTree is a volume with empty, small, odd-sized, sparse and all-zero
// files in nested directories.
func sampleTree() (*testFS, map[string][]byte) {
	fsys := newTestFS()
	want := map[string][]byte{}
	add := func(name string, data []byte) {
		fsys.file(name, data)
		want[name] = data
	}
	add("empty.txt", nil)
	add("small.txt", []byte("hello, datastore\n"))
	add("vm1/vm1.vmx", randBytes(1, 3000))
	add("vm1/vm1-flat.vmdk", randBytes(2, chunkSize+17))
	// A thin disk: data at 0 and near 3 MiB, a hole in between (only the
	// allocation map says so), and an allocated but all-zero block.
	thin := make([]byte, 3*chunkSize+4096)
	copy(thin, randBytes(3, 100000))
	copy(thin[3*chunkSize:], randBytes(4, 4096))
	add("vm2/disk/thin-flat.vmdk", thin)
	fsys.alloc["vm2/disk/thin-flat.vmdk"] = allocmap.Map{{Off: 0, Len: 2 * chunkSize}, {Off: 3 * chunkSize, Len: 4096}}
	fsys.prov["vm2/disk/thin-flat.vmdk"] = "deleted"
	fsys.warn["vm2/disk/thin-flat.vmdk"] = []string{"bytes 0-512 lay in unreadable sectors of the source and read as zeros"}
	add("zeros.bin", make([]byte, 2*chunkSize))
	fsys.MapFS["emptydir"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755, ModTime: testTime}
	return fsys, want
}

func readDest(t *testing.T, conn Conn, name string) []byte {
	t.Helper()
	rc, err := conn.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("open %s in destination: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s in destination: %v", name, err)
	}
	return b
}

func connect(t *testing.T, d Destination) Conn {
	t.Helper()
	c, err := d.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func manifestOf(t *testing.T, conn Conn) []Entry {
	t.Helper()
	es, err := ReadManifest(bytes.NewReader(readDest(t, conn, ManifestName)))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func byDest(es []Entry) map[string]Entry {
	m := map[string]Entry{}
	for _, e := range es {
		m[e.Dest] = e
	}
	return m
}

func testOpts() Options {
	return Options{Backoff: time.Millisecond, Retries: 3}
}

func testTree(t *testing.T, h *harness) {
	fsys, want := sampleTree()
	ctx := context.Background()
	rep, err := Export(ctx, fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exported != len(want) || rep.Failed != 0 || rep.Complete != 0 || rep.Warned != 1 {
		t.Fatalf("report: %d exported, %d failed, %d complete, %d warned; want %d exported, 1 warned: %+v", rep.Exported, rep.Failed, rep.Complete, rep.Warned, len(want), rep.Entries)
	}
	conn := connect(t, h.dest)
	es := byDest(manifestOf(t, conn))
	for name, data := range want {
		if len(data) == 0 {
			if n, err := conn.Size(ctx, name); n != 0 || err != nil {
				t.Errorf("%s: %d bytes, %v; want an empty file", name, n, err)
			}
		} else if got := readDest(t, conn, name); !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes in destination differ from the %d source bytes", name, len(got), len(data))
		}
		e, ok := es[name]
		if !ok {
			t.Errorf("%s: not in manifest", name)
			continue
		}
		if e.Source != name || e.Size != int64(len(data)) || e.SHA256 != sumHex(data) || e.Status != StatusExported || e.Renamed {
			t.Errorf("%s: manifest entry %+v", name, e)
		}
		if h.mtime != nil {
			if mt, ok := h.mtime(t, name); ok && !mt.Equal(testTime) {
				t.Errorf("%s: mtime %v, want %v", name, mt, testTime)
			}
		}
	}
	if p := es["vm2/disk/thin-flat.vmdk"].Provenance; p != "deleted" {
		t.Errorf("provenance %q, want deleted", p)
	}
	if w := es["vm2/disk/thin-flat.vmdk"].Warnings; len(w) != 1 || !strings.Contains(w[0], "unreadable sectors") {
		t.Errorf("warnings %q, want the source's", w)
	}
	if e := es["emptydir"]; e.Status != StatusDir {
		t.Errorf("emptydir: %+v", e)
	}
	if h.dirTimes {
		if mt, _ := h.mtime(t, "emptydir"); !mt.Equal(testTime) {
			t.Errorf("emptydir: mtime %v, want %v", mt, testTime)
		}
	}
	if _, err := conn.Size(ctx, "emptydir/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Size of a missing file: %v, want fs.ErrNotExist", err)
	}
	res, err := Verify(ctx, conn, manifestOf(t, conn), nil)
	if err != nil || res.Checked != len(want) {
		t.Fatalf("verify: %v, %+v", err, res)
	}
}

func testRerun(t *testing.T, h *harness) {
	fsys, want := sampleTree()
	ctx := context.Background()
	if _, err := Export(ctx, fsys, nil, h.dest, testOpts()); err != nil {
		t.Fatal(err)
	}
	rep, err := Export(ctx, fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Complete != len(want) || rep.Exported != 0 || rep.Failed != 0 {
		t.Fatalf("rerun: %d complete, %d exported, %d failed; want %d complete", rep.Complete, rep.Exported, rep.Failed, len(want))
	}
	// A changed source file is not silently kept, nor overwritten.
	fsys.file("small.txt", []byte("changed\n"))
	rep, err = Export(ctx, fsys, []string{"small.txt"}, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(rep.Entries[0].Error, "exists") {
		t.Fatalf("changed source: %+v", rep.Entries)
	}
	conn := connect(t, h.dest)
	es := byDest(manifestOf(t, conn))
	// The other files and the 4 directories survive a partial rerun, and
	// small.txt keeps the entry of what the destination still holds.
	if len(es) != len(want)+4 || es["small.txt"].SHA256 != sumHex(want["small.txt"]) || !es["vm1/vm1.vmx"].Done() {
		t.Errorf("manifest after partial rerun has %d entries, want %d: %+v", len(es), len(want)+4, es)
	}
}

func testResumePartial(t *testing.T, h *harness) {
	fsys := newTestFS()
	data := randBytes(7, 3*chunkSize+5)
	fsys.file("big.bin", data)
	fsys.failAt["big.bin"] = 2*chunkSize + 100
	ctx := context.Background()
	rep, err := Export(ctx, fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(rep.Entries[0].Error, "offset 2097252") {
		t.Fatalf("bad sector: %+v", rep.Entries)
	}
	conn := connect(t, h.dest)
	if _, err := conn.Size(ctx, "big.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed file has its final name: %v", err)
	}
	part, err := conn.Size(ctx, tempName("big.bin"))
	if err != nil || part == 0 || part > 2*chunkSize+100 {
		t.Fatalf("partial file: %d bytes, %v", part, err)
	}
	delete(fsys.failAt, "big.bin")
	rep, err = Export(ctx, fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	e := rep.Entries[0]
	if e.Status != StatusExported || e.ResumedFrom != part || e.SHA256 != sumHex(data) {
		t.Fatalf("resume: %+v, want resumed from %d", e, part)
	}
	if got := readDest(t, conn, "big.bin"); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs from the source")
	}
	if _, err := conn.Size(ctx, tempName("big.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}

func testUnsafeNames(t *testing.T, h *harness) {
	fsys := newTestFS()
	long := strings.Repeat("ä", 200) // 400 bytes
	names := map[string]string{      // source -> destination
		"ctl\x01\x1b[31m.txt":                    "ctl__[31m.txt",
		"nul\x00name":                            "nul_name",
		"back\\slash":                            "back_slash",
		"dir\x7f/a\x02":                          "dir_/a_",
		"dir\x7f/a\x03":                          "dir_/a_~2",
		ManifestName:                             ManifestName + "_",
		"sub/" + long:                            "sub/" + SafeName(long),
		"sub/.vmfsrecover-0123456789abcdef.part": "sub/.vmfsrecover-0123456789abcdef.part_",
	}
	for src := range names {
		fsys.file(src, []byte(src))
	}
	fsys.extra["sub"] = []fs.DirEntry{badEntry{".."}, badEntry{"x/../../etc"}}
	rep, err := Export(context.Background(), fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exported != len(names) || rep.Failed != 2 {
		t.Fatalf("%d exported, %d failed: %+v", rep.Exported, rep.Failed, rep.Entries)
	}
	conn := connect(t, h.dest)
	es := manifestOf(t, conn)
	bySrc := map[string]Entry{}
	for _, e := range es {
		bySrc[e.Source] = e
	}
	for src, dest := range names {
		e := bySrc[src]
		if e.Dest != dest || !e.Renamed || e.Status != StatusExported {
			t.Errorf("%q: entry %+v, want dest %q", src, e, dest)
			continue
		}
		if got := readDest(t, conn, dest); string(got) != src {
			t.Errorf("%q: destination holds %q", dest, got)
		}
	}
	for _, bad := range []string{"sub/..", "sub/x/../../etc"} {
		e := bySrc[bad]
		if e.Status != StatusFailed || !strings.Contains(e.Error, "cannot be opened") || !validDest(e.Dest) || !strings.HasPrefix(e.Dest, "sub/") {
			t.Errorf("%q: %+v", bad, e)
		}
	}
	if len(SafeName(long)) > 255 {
		t.Errorf("long name kept %d bytes", len(SafeName(long)))
	}
}

func testNoOverwrite(t *testing.T, h *harness) {
	fsys := newTestFS()
	fsys.file("a.txt", []byte("recovered"))
	conn := connect(t, h.dest)
	ctx := context.Background()
	old := []byte("precious file already there")
	if err := conn.Write(ctx, "a.txt", newStream("x", bytes.NewReader(old), int64(len(old)), nil, 0, nil)); err != nil {
		t.Fatal(err)
	}
	rep, err := Export(ctx, fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(rep.Entries[0].Error, "--overwrite") {
		t.Fatalf("%+v", rep.Entries)
	}
	if got := readDest(t, conn, "a.txt"); !bytes.Equal(got, old) {
		t.Fatalf("existing file overwritten: %q", got)
	}
	opts := testOpts()
	opts.Overwrite = true
	if rep, err = Export(ctx, fsys, nil, h.dest, opts); err != nil || rep.Exported != 1 {
		t.Fatalf("--overwrite: %v %+v", err, rep)
	}
	if got := readDest(t, conn, "a.txt"); string(got) != "recovered" {
		t.Fatalf("after --overwrite: %q", got)
	}
}

func testSymlinks(t *testing.T, h *harness) {
	fsys := newTestFS()
	fsys.file("dir/a.txt", []byte("a"))
	fsys.link("dir/inside", "a.txt")
	fsys.link("dir/up", "../dir/a.txt")
	fsys.link("dir/escape", "../../etc/passwd")
	fsys.link("abs", "/etc/passwd")
	rep, err := Export(context.Background(), fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	es := byDest(rep.Entries)
	for _, n := range []string{"dir/escape", "abs"} {
		if e := es[n]; e.Status != StatusSkipped || !strings.Contains(e.Error, "outside") {
			t.Errorf("%s: %+v", n, e)
		}
	}
	for _, n := range []string{"dir/inside", "dir/up"} {
		e := es[n]
		want := StatusLinked
		if !h.links {
			want = StatusSkipped
		}
		if e.Status != want {
			t.Errorf("%s: %+v, want %s", n, e, want)
		}
	}
	conn := connect(t, h.dest)
	if _, err := conn.Size(context.Background(), "abs"); err == nil {
		t.Errorf("link to /etc/passwd followed")
	}
}

func testVerifyDetects(t *testing.T, h *harness) {
	fsys, _ := sampleTree()
	ctx := context.Background()
	if _, err := Export(ctx, fsys, nil, h.dest, testOpts()); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, h.dest)
	bad := []byte("hello, datastorE\n")
	if err := conn.Write(ctx, "small.txt", newStream("x", bytes.NewReader(bad), int64(len(bad)), nil, 0, nil)); err != nil {
		t.Fatal(err)
	}
	if err := conn.Remove(ctx, "vm1/vm1.vmx"); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(ctx, conn, manifestOf(t, conn), nil)
	if !errors.Is(err, ErrMismatch) || len(res.Mismatches) != 2 {
		t.Fatalf("verify: %v, %+v", err, res)
	}
	got := res.Mismatches[0].String() + "\n" + res.Mismatches[1].String()
	if !strings.Contains(got, "small.txt: sha256") || !strings.Contains(got, "vm1/vm1.vmx") {
		t.Errorf("mismatches:\n%s", got)
	}
}

func testParallel(t *testing.T, h *harness) {
	fsys := newTestFS()
	want := map[string][]byte{}
	for i := range 12 {
		name := "f" + string(rune('a'+i)) + ".bin"
		want[name] = randBytes(uint64(100+i), 50000+i*7000)
		fsys.file(name, want[name])
	}
	opts := testOpts()
	opts.Workers = 4
	rep, err := Export(context.Background(), fsys, nil, h.dest, opts)
	if err != nil || rep.Exported != len(want) {
		t.Fatalf("%v %+v", err, rep)
	}
	conn := connect(t, h.dest)
	for name, data := range want {
		if got := readDest(t, conn, name); !bytes.Equal(got, data) {
			t.Errorf("%s differs", name)
		}
	}
}

// testSinglePath exports one file deep in a tree: its directories are
// created on the way.
func testSinglePath(t *testing.T, h *harness) {
	fsys, want := sampleTree()
	rep, err := Export(context.Background(), fsys, []string{"/vm2/disk/thin-flat.vmdk"}, h.dest, testOpts())
	if err != nil || rep.Exported != 1 || rep.Failed != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	conn := connect(t, h.dest)
	if got := readDest(t, conn, "vm2/disk/thin-flat.vmdk"); !bytes.Equal(got, want["vm2/disk/thin-flat.vmdk"]) {
		t.Fatal("content differs")
	}
	if _, err := conn.Size(context.Background(), "small.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file not asked for was exported: %v", err)
	}
}

func testReadBack(t *testing.T, h *harness) {
	fsys, want := sampleTree()
	opts := testOpts()
	opts.ReadBack = true
	rep, err := Export(context.Background(), fsys, nil, h.dest, opts)
	if err != nil || rep.Exported != len(want) {
		t.Fatalf("%v %+v", err, rep)
	}
	for _, e := range rep.Entries {
		if e.Kind == KindFile && !e.Verified {
			t.Errorf("%s not read back", e.Dest)
		}
	}
}

// writeDest replaces a destination file's content, as a disk error or a
// user would.
func writeDest(t *testing.T, conn Conn, name string, data []byte) {
	t.Helper()
	if err := conn.Write(context.Background(), name, newStream("x", bytes.NewReader(data), int64(len(data)), nil, 0, nil)); err != nil {
		t.Fatal(err)
	}
}

// testRerunRepairs: a copy damaged after the export (same size, one byte
// flipped; or grown) is found and copied again by a rerun with ReadBack;
// without it the report says how many complete files were not re-read.
func testRerunRepairs(t *testing.T, h *harness) {
	fsys, want := sampleTree()
	ctx := context.Background()
	if _, err := Export(ctx, fsys, nil, h.dest, testOpts()); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, h.dest)
	flipped := bytes.Clone(want["vm1/vm1.vmx"])
	flipped[1000] ^= 0x01
	writeDest(t, conn, "vm1/vm1.vmx", flipped)
	writeDest(t, conn, "small.txt", append(bytes.Clone(want["small.txt"]), "!!"...))

	rep, err := Export(ctx, fsys, nil, h.dest, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Complete != len(want)-1 || rep.Unchecked != rep.Complete || rep.Failed != 1 || rep.Exported != 0 {
		t.Fatalf("rerun without read-back: %d complete (%d unchecked), %d failed, %d exported: %+v", rep.Complete, rep.Unchecked, rep.Failed, rep.Exported, rep.Entries)
	}
	if e := byDest(rep.Entries)["small.txt"]; !strings.Contains(e.Error, "--verify") {
		t.Errorf("grown copy without read-back: %q does not say how to repair it", e.Error)
	}

	opts := testOpts()
	opts.ReadBack = true
	rep, err = Export(ctx, fsys, nil, h.dest, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exported != 2 || rep.Repaired != 2 || rep.Complete != len(want)-2 || rep.Unchecked != 0 || rep.Failed != 0 {
		t.Fatalf("rerun with read-back: %d exported (%d repaired), %d complete (%d unchecked), %d failed: %+v", rep.Exported, rep.Repaired, rep.Complete, rep.Unchecked, rep.Failed, rep.Entries)
	}
	for _, n := range []string{"vm1/vm1.vmx", "small.txt"} {
		if got := readDest(t, conn, n); !bytes.Equal(got, want[n]) {
			t.Errorf("%s not repaired", n)
		}
	}
	if res, err := Verify(ctx, conn, manifestOf(t, conn), nil); err != nil {
		t.Fatalf("verify after the repair: %v, %+v", err, res.Mismatches)
	}
	rep, err = Export(ctx, fsys, nil, h.dest, opts)
	if err != nil || rep.Complete != len(want) || rep.Unchecked != 0 {
		t.Fatalf("rerun after the repair: %v, %d complete, %d unchecked", err, rep.Complete, rep.Unchecked)
	}
}

// testVerifyGrown: a copy that grew is reported with its real size.
func testVerifyGrown(t *testing.T, h *harness) {
	fsys := newTestFS()
	fsys.file("eight.txt", []byte("12345678"))
	ctx := context.Background()
	if _, err := Export(ctx, fsys, nil, h.dest, testOpts()); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, h.dest)
	writeDest(t, conn, "eight.txt", []byte("1234567890"))
	res, err := Verify(ctx, conn, manifestOf(t, conn), nil)
	if !errors.Is(err, ErrMismatch) || len(res.Mismatches) != 1 {
		t.Fatalf("verify: %v, %+v", err, res)
	}
	if got := res.Mismatches[0].String(); got != "eight.txt: 10 bytes, manifest says 8" {
		t.Errorf("mismatch %q", got)
	}
}

// testMissingFolder exports files without directories into a folder two
// levels below an existing one: no directory of the volume creates the
// destination's levels on the way, the export must.
func testMissingFolder(t *testing.T, h *harness) {
	if h.at == nil {
		t.Skip("the harness has no way to name another folder")
	}
	d := h.at(t, "new/deeper")
	fsys := newTestFS()
	fsys.file("a.txt", []byte("top"))
	fsys.file("b.bin", randBytes(9, 5000))
	rep, err := Export(context.Background(), fsys, nil, d, testOpts())
	if err != nil || rep.Exported != 2 || rep.Manifest != ManifestName {
		t.Fatalf("%v: %d exported, manifest %q: %+v", err, rep.Exported, rep.Manifest, rep.Entries)
	}
	conn := connect(t, d)
	if got := readDest(t, conn, "a.txt"); string(got) != "top" {
		t.Errorf("a.txt holds %q", got)
	}
	if es := manifestOf(t, conn); len(es) != 2 {
		t.Errorf("manifest: %+v", es)
	}
}

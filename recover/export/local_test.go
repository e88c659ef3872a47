package export

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

func localHarness(t *testing.T) *harness {
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{
		dest:     d,
		links:    true,
		dirTimes: true,
		mtime: func(t *testing.T, name string) (time.Time, bool) {
			fi, err := os.Stat(filepath.Join(d.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return fi.ModTime().UTC(), true
		},
		at: func(t *testing.T, dir string) Destination {
			l, err := NewLocal(filepath.Join(d.Dir, dir))
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
	}
}

func TestLocalConformance(t *testing.T) { runConformance(t, localHarness) }

// mountTmpfs mounts a small tmpfs (root only); the test skips elsewhere.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Lacks(t, "cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestLocalFullDisk: a destination that fills up stops the export with
// ErrDestination; the files done before stay, verified, in the manifest.
func TestLocalFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "3m")
	fsys := newTestFS()
	fsys.file("a-small.txt", []byte("fits"))
	fsys.file("b-big.bin", randBytes(5, 8*chunkSize))
	fsys.file("c-after.txt", []byte("never reached"))
	d, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.NoSync = true
	opts := testOpts()
	opts.Workers = 1 // one file after the other: c-after.txt comes after the failure
	rep, err := Export(context.Background(), fsys, nil, d, opts)
	if !errors.Is(err, ErrDestination) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want ErrDestination wrapping ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "no space left") {
		t.Errorf("message %q does not say why", err)
	}
	es := byDest(rep.Entries)
	if es["a-small.txt"].Status != StatusExported || es["b-big.bin"].Status != StatusFailed {
		t.Fatalf("%+v", rep.Entries)
	}
	if _, ok := es["c-after.txt"]; ok {
		t.Errorf("export went on after the disk filled: %+v", es["c-after.txt"])
	}
	if _, err := os.Stat(filepath.Join(dir, "b-big.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Error("the file that did not fit has its final name")
	}
	// The manifest may not fit either; when it does, it lists the done file.
	if b, err := os.ReadFile(filepath.Join(dir, ManifestName)); err == nil {
		ms, err := ReadManifest(bytes.NewReader(b))
		if err != nil || byDest(ms)["a-small.txt"].Status != StatusExported {
			t.Errorf("manifest after a full disk: %v %+v", err, ms)
		}
	}
}

// TestLocalReadOnly: a read-only destination stops at once with a clear
// error.
func TestLocalReadOnly(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		testenv.Lacks(t, "cannot remount read-only: %v %s", err, out)
	}
	fsys, _ := sampleTree()
	d := &Local{Dir: dir}
	rep, err := Export(context.Background(), fsys, nil, d, testOpts())
	if !errors.Is(err, ErrDestination) || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("error %v, want ErrDestination wrapping EROFS", err)
	}
	if rep.Exported != 0 {
		t.Fatalf("%d exported to a read-only filesystem", rep.Exported)
	}
}

// TestLocalSparse: holes from the allocation map and all-zero blocks are
// not written and not read.
func TestLocalSparse(t *testing.T) {
	const size = 64 << 20
	data := make([]byte, size)
	copy(data[1<<20:], randBytes(9, 4096))
	copy(data[40<<20:], randBytes(10, 100<<10)) // allocated, with zeros after it
	fsys := newTestFS()
	fsys.file("thin-flat.vmdk", data)
	fsys.alloc["thin-flat.vmdk"] = allocmap.Map{{Off: 1 << 20, Len: 4096}, {Off: 40 << 20, Len: 8 << 20}}
	var read int64
	fsys.reads["thin-flat.vmdk"] = &read
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Export(context.Background(), fsys, nil, d, testOpts())
	if err != nil || rep.Exported != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	if read != 8<<20+4096 {
		t.Errorf("read %d bytes, want only the allocated %d", read, 8<<20+4096)
	}
	fi, err := os.Stat(filepath.Join(d.Dir, "thin-flat.vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	used := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if fi.Size() != size || used > 1<<20 {
		t.Errorf("size %d, %d bytes allocated; want %d with at most 1 MiB allocated", fi.Size(), used, size)
	}
	if rep.Entries[0].SHA256 != sumHex(data) {
		t.Error("hash of a sparse file is not the hash of its bytes")
	}
}

// TestCancelKeepsWork: cancelling stops the export, keeps finished files
// and writes the manifest; a rerun completes the rest.
func TestCancelKeepsWork(t *testing.T) {
	fsys := newTestFS()
	for i := range 5 {
		fsys.file("f"+strconv.Itoa(i), randBytes(uint64(i), 2*chunkSize))
	}
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts := testOpts()
	opts.Workers = 1 // one file after the other, so that some are left
	opts.Progress = &cancelAfter{n: 2, cancel: cancel}
	rep, err := Export(ctx, fsys, nil, d, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if rep.Exported < 2 || rep.Exported == 5 {
		t.Fatalf("%d exported before the cancel", rep.Exported)
	}
	conn := connect(t, d)
	if got := len(manifestOf(t, conn)); got != len(rep.Entries) {
		t.Fatalf("manifest has %d entries, report %d", got, len(rep.Entries))
	}
	rep2, err := Export(context.Background(), fsys, nil, d, testOpts())
	if err != nil || rep2.Complete != rep.Exported || rep2.Exported != 5-rep.Exported {
		t.Fatalf("rerun: %v %+v", err, rep2)
	}
}

type cancelAfter struct {
	nopProgress
	n      int
	cancel func()
}

func (c *cancelAfter) FileDone(name, status string) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
}

// TestLocalLinkInDestinationNotFollowed: a symbolic link already in the
// destination, pointing outside it, is never followed by a write.
func TestLocalLinkInDestinationNotFollowed(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "vm1")); err != nil {
		t.Fatal(err)
	}
	fsys := newTestFS()
	fsys.file("vm1/vm1.vmx", []byte("x"))
	d, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := Export(context.Background(), fsys, nil, d, testOpts())
	if rep.Exported != 0 {
		t.Fatalf("%+v", rep.Entries)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside the destination: %v", ents)
	}
}

// flippingDest corrupts the first byte of every file it writes, as a
// faulty disk or server would.
type flippingDest struct{ *Local }

func (d flippingDest) Connect(ctx context.Context) (Conn, error) {
	c, err := d.Local.Connect(ctx)
	return flippingConn{c.(*localConn)}, err
}

type flippingConn struct{ *localConn }

func (c flippingConn) Write(ctx context.Context, name string, s *Stream) error {
	if err := c.localConn.Write(ctx, name, s); err != nil || s.Size() == 0 || name == tempName(ManifestName) {
		return err
	}
	f, err := c.root.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := []byte{0}
	f.ReadAt(b, 0)
	_, err = f.WriteAt([]byte{^b[0]}, 0)
	return err
}

// TestReadBackCatchesCorruption: with ReadBack, a file the destination
// corrupts is not reported exported and keeps no final name.
func TestReadBackCatchesCorruption(t *testing.T) {
	fsys := newTestFS()
	fsys.file("a.bin", randBytes(3, 5000))
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := testOpts()
	rep, err := Export(context.Background(), fsys, nil, flippingDest{l}, opts)
	if err != nil || rep.Exported != 1 {
		t.Fatalf("without read-back the corruption goes unseen until verify: %v %+v", err, rep)
	}
	os.Remove(filepath.Join(l.Dir, "a.bin"))
	os.Remove(filepath.Join(l.Dir, ManifestName))
	opts.ReadBack = true
	rep, err = Export(context.Background(), fsys, nil, flippingDest{l}, opts)
	if err != nil || rep.Exported != 0 || rep.Failed != 1 || !strings.Contains(rep.Entries[0].Error, "read back") {
		t.Fatalf("%v %+v", err, rep.Entries)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "a.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a corrupted file got its final name")
	}
	if _, err := os.Stat(filepath.Join(l.Dir, tempName("a.bin"))); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a corrupted temporary file is left for a rerun to continue")
	}
}

// TestLocalResumeChecksPrefix: a partial file that is not the source's
// prefix is rewritten from the first chunk that differs.
func TestLocalResumeChecksPrefix(t *testing.T) {
	data := randBytes(17, 3*chunkSize+10)
	fsys := newTestFS()
	fsys.file("x.bin", data)
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stale := append([]byte{}, data[:2*chunkSize+5]...)
	stale[chunkSize+7] ^= 0xff // a partial file from another source
	if err := os.WriteFile(filepath.Join(d.Dir, tempName("x.bin")), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Export(context.Background(), fsys, nil, d, testOpts())
	if err != nil || rep.Exported != 1 || rep.Entries[0].ResumedFrom != chunkSize {
		t.Fatalf("%v %+v", err, rep.Entries)
	}
	if got, _ := os.ReadFile(filepath.Join(d.Dir, "x.bin")); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs from the source")
	}
}

// TestLocalDirAndLinkTimes: directories and symbolic links get their
// source's modification time, like files, once everything is written into
// them.
func TestLocalDirAndLinkTimes(t *testing.T) {
	fsys := newTestFS()
	dirTime := testTime.Add(-48 * time.Hour)
	linkTime := testTime.Add(-24 * time.Hour)
	fsys.MapFS["vm"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755, ModTime: dirTime}
	fsys.MapFS["vm/sub"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755, ModTime: dirTime}
	fsys.file("vm/sub/disk.vmdk", []byte("disk"))
	fsys.file("vm/vm.vmx", []byte("config"))
	fsys.MapFS["vm/current.vmx"] = &fstest.MapFile{Data: []byte("vm.vmx"), Mode: fs.ModeSymlink | 0o777, ModTime: linkTime}
	fsys.file("untimed/a", []byte("a")) // fstest.MapFS makes untimed/ without a time
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Minute)
	if _, err := Export(context.Background(), fsys, nil, d, testOpts()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(d.Dir, "untimed")); err != nil || fi.ModTime().Before(start) {
		t.Errorf("a directory whose source has no time got one: %v, %v", fi.ModTime(), err)
	}
	for name, want := range map[string]time.Time{"vm": dirTime, "vm/sub": dirTime, "vm/current.vmx": linkTime, "vm/vm.vmx": testTime} {
		fi, err := os.Lstat(filepath.Join(d.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("%s: mtime %v, want %v", name, fi.ModTime().UTC(), want)
		}
	}
}

// TestLocalMessages: the errors and the report say what happened to the
// destination folder and to the manifest.
func TestLocalMessages(t *testing.T) {
	fsys := newTestFS()
	fsys.file("a.txt", []byte("a"))
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Export(context.Background(), fsys, nil, d, testOpts())
	if err != nil || rep.Manifest != ManifestName || rep.ManifestError != nil {
		t.Fatalf("%v: manifest %q, %v", err, rep.Manifest, rep.ManifestError)
	}
	// A folder that cannot be opened is not "connecting to" anything.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Export(context.Background(), fsys, nil, &Local{Dir: filepath.Join(blocked, "sub")}, testOpts())
	if err == nil || strings.Contains(err.Error(), "connecting") || !strings.Contains(err.Error(), "destination folder") || rep.Manifest != "" {
		t.Fatalf("error %v, manifest %q", err, rep.Manifest)
	}
}

// TestLocalSettlesBeforeManifest: a file the manifest names is in a
// folder fsynced after its rename and before the manifest was renamed
// into place (a power cut cannot leave the manifest naming a file whose
// rename is lost), and the manifest's own folder is fsynced after it;
// with NoSync, nothing is.
func TestLocalSettlesBeforeManifest(t *testing.T) {
	fsys := newTestFS()
	for _, name := range []string{"top.vmx", "a/disk.vmdk", "b/c/log.txt", "b/c/other.txt"} {
		fsys.file(name, []byte(name))
	}
	type event struct {
		folder string
		listed []string // files the manifest named when the folder was fsynced
	}
	for _, noSync := range []bool{false, true} {
		dir := t.TempDir()
		var events []event
		original := syncFolder
		syncFolder = func(root *os.Root, folder string) error {
			ev := event{folder: folder}
			if f, err := os.Open(filepath.Join(dir, ManifestName)); err == nil {
				entries, _ := ReadManifest(f)
				f.Close()
				for _, e := range entries {
					ev.listed = append(ev.listed, e.Dest)
				}
			}
			events = append(events, ev)
			return original(root, folder)
		}
		_, err := Export(context.Background(), fsys, nil, &Local{Dir: dir, NoSync: noSync}, testOpts())
		syncFolder = original
		if err != nil {
			t.Fatal(err)
		}
		if noSync {
			if len(events) > 0 {
				t.Errorf("NoSync: folders fsynced: %+v", events)
			}
			continue
		}
		synced := map[string]bool{}
		for _, ev := range events {
			for _, name := range ev.listed {
				if !synced[path.Dir(name)] {
					t.Errorf("the manifest named %s before its folder was fsynced (events %+v)", name, events)
				}
			}
			synced[ev.folder] = true
		}
		for _, folder := range []string{".", "a", "b", "b/c"} {
			if !synced[folder] {
				t.Errorf("folder %q never fsynced (events %+v)", folder, events)
			}
		}
		last := events[len(events)-1]
		for name := range fsys.MapFS {
			if last.folder != "." || !slices.Contains(last.listed, name) {
				t.Errorf("the last fsync is not of the manifest's folder once it names %s: %+v", name, last)
			}
		}
	}
}

// TestLocalDropsWrittenPages: a file exported with fsync leaves none of
// its pages in the page cache (they are dropped behind the writes, and
// the rest once fsynced), and the manifest's hash is still the file's;
// with NoSync the pages stay cached.
func TestLocalDropsWrittenPages(t *testing.T) {
	const size = 3*dropLag/2 + 12345
	data := randBytes(21, size)
	for _, noSync := range []bool{false, true} {
		fsys := newTestFS()
		fsys.file("big-flat.vmdk", data)
		d, err := NewLocal(diskTempDir(t))
		if err != nil {
			t.Fatal(err)
		}
		d.NoSync = noSync
		rep, err := Export(context.Background(), fsys, nil, d, testOpts())
		if err != nil || rep.Exported != 1 || rep.Entries[0].SHA256 != sumHex(data) {
			t.Fatalf("%v %+v", err, rep)
		}
		cached := residentPages(t, filepath.Join(d.Dir, "big-flat.vmdk"))
		all := (size + os.Getpagesize() - 1) / os.Getpagesize()
		if !noSync && cached > 0 {
			t.Errorf("with fsync: %d of %d pages still cached", cached, all)
		}
		if noSync && cached < all/2 {
			t.Errorf("without fsync: %d of %d pages cached, want them kept", cached, all)
		}
	}
}

// diskTempDir is a temporary folder on a file system with a page cache:
// t.TempDir unless that is on tmpfs (Debian's /tmp), else one in the
// package's folder.
func diskTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		return dir
	}
	dir, err := os.MkdirTemp(".", ".test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := unix.Statfs(dir, &st); err != nil || st.Type == unix.TMPFS_MAGIC {
		t.Fatalf("no folder off tmpfs for the test (%s: %v)", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// residentPages counts the pages of the file at path that the page cache
// holds (mincore over a read-only map; the map itself reads nothing).
func residentPages(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

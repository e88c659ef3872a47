package ntfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"golang.org/x/sys/unix"
)

// fixture is an NTFS image written by ntfs-3g, and what the mount showed
// of it before it was unmounted: the reference every test compares with.
type fixture struct {
	img     string
	files   map[string]wantFile // live entries by path, streams as PATH:STREAM
	deleted map[string]string   // sha256 of the files deleted (or reused), by their old path
}

type wantFile struct {
	sha    string
	size   int64
	mode   fs.FileMode
	mtime  time.Time
	ino    uint64
	links  int
	target string
	unstat bool // ntfs-3g cannot stat it
}

var (
	fixtureOnce sync.Once
	theFixture  *fixture
	fixtureErr  string
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// ntfs3gImage returns the shared fixture, made once: mkntfs on a 64 MiB
// sparse file, mounted by ntfs-3g (streams as user.* xattrs), filled with
// every kind of file the reader must read, some then deleted, unmounted.
func ntfs3gImage(t *testing.T) *fixture {
	t.Helper()
	mkntfs := testenv.Tool(t, "mkntfs")
	ntfs3g := testenv.Tool(t, "ntfs-3g")
	if os.Geteuid() != 0 {
		testenv.Lacks(t, "ntfs-3g mounts need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testenv.Lacks(t, "ntfs-3g mounts need /dev/fuse (package fuse3): %v", err)
	}
	fixtureOnce.Do(func() {
		var err error
		if fixtureDir, err = os.MkdirTemp("", "ntfs-fixture"); err != nil {
			fixtureErr = err.Error()
			return
		}
		theFixture, fixtureErr = makeFixture(fixtureDir, mkntfs, ntfs3g)
	})
	if fixtureErr != "" {
		t.Fatal(fixtureErr)
	}
	return theFixture
}

func makeFixture(dir, mkntfs, ntfs3g string) (*fixture, string) {
	img := filepath.Join(dir, "ntfs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		return nil, err.Error()
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		return nil, err.Error()
	}
	if out, err := exec.Command(mkntfs, "-F", "-f", "-q", "-L", "fixture", img).CombinedOutput(); err != nil {
		return nil, "mkntfs: " + err.Error() + ": " + string(out)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return nil, err.Error()
	}
	if out, err := exec.Command(ntfs3g, "-o", "streams_interface=xattr", img, mnt).CombinedOutput(); err != nil {
		return nil, "ntfs-3g: " + err.Error() + ": " + string(out)
	}
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	}()
	deletedSums, err := populate(mnt)
	if err != nil {
		return nil, "writing the fixture through ntfs-3g: " + err.Error()
	}
	files, err := describeMount(mnt)
	if err != nil {
		return nil, "reading the fixture back through ntfs-3g: " + err.Error()
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		return nil, "umount: " + err.Error() + ": " + string(out)
	}
	mounted = false
	return &fixture{img: img, files: files, deleted: deletedSums}, ""
}

// reused marks, among the deleted files, those whose clusters frag.bin
// takes: their content is not compared, their Lost is.
const reused = "reused"

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// populate writes the fixture's files and deletes some; it returns the
// sha256 of each deleted file by its old path.
func populate(mnt string) (map[string]string, error) {
	rng := rand.New(rand.NewSource(15))
	random := func(n int) []byte { b := make([]byte, n); rng.Read(b); return b }
	text := func(n int) []byte {
		return bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog 0123456789\n"), n/55+1)[:n]
	}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	p := func(name string) string { return filepath.Join(mnt, filepath.FromSlash(name)) }
	write := func(name string, b []byte) { check(os.WriteFile(p(name), b, 0o644)) }
	mkdir := func(name string) { check(os.Mkdir(p(name), 0o755)) }
	// pwrite writes blocks at the given offsets of a file, then sets its size.
	pwrite := func(name string, size int64, at map[int64][]byte, order []int64) {
		f, err := os.OpenFile(p(name), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			check(err)
			return
		}
		defer f.Close()
		for _, off := range order {
			_, err := f.WriteAt(at[off], off)
			check(err)
		}
		check(f.Truncate(size))
	}

	write("hello.txt", []byte("hello world\n")) // resident
	write("big.bin", random(3<<20))
	mkdir("docs")
	for i := range 300 { // enough names for an $INDEX_ALLOCATION
		write("docs/n"+strings.Repeat("x", i%40)+string(rune('a'+i%26))+strconv.Itoa(i)+".txt", text(i*10))
	}
	write("docs/report.doc", text(5000))
	check(unix.Setxattr(p("docs/report.doc"), "user.Zone.Identifier", []byte("[ZoneTransfer]\r\nZoneId=3\r\n"), 0))
	check(unix.Setxattr(p("docs/report.doc"), "user.big", random(60<<10), 0)) // xattrs stop at 64 KiB
	mkdir("docs/sub")
	write("docs/sub/deep.txt", []byte("deep\n"))
	check(unix.Setxattr(p("docs/sub"), "user.dirstream", []byte("a stream on a directory"), 0))

	// 5000 data runs between holes: more than 21 records hold, so $DATA
	// continues in extension records through an attribute list.
	holes := map[int64][]byte{}
	var order []int64
	for i := int64(0); i < 10000; i += 2 {
		holes[i*4096] = random(4096)
		order = append(order, i*4096)
	}
	pwrite("holes.bin", 10000*4096+100, holes, order)
	pwrite("sparse.bin", 12<<20, map[int64][]byte{0: random(64 << 10), 5 << 20: random(64 << 10)}, []int64{0, 5 << 20})

	mkdir("comp")
	check(unix.Setxattr(p("comp"), "system.ntfs_attrib_be", []byte{0, 0, 0x08, 0}, 0)) // FILE_ATTRIBUTE_COMPRESSED
	write("comp/text.txt", text(300<<10))
	write("comp/rand.bin", random(200<<10))
	write("comp/small.txt", []byte("small compressed\n"))
	write("comp/odd.txt", text(70000+333))
	pwrite("comp/mixed.bin", 3<<20, map[int64][]byte{0: text(100 << 10), 1 << 20: random(10 << 10), 1<<20 + 200<<10: text(30 << 10)}, []int64{0, 1 << 20, 1<<20 + 200<<10})

	check(os.Link(p("hello.txt"), p("hard.txt")))
	check(os.Link(p("big.bin"), p("docs/big-link.bin")))
	check(os.Symlink("hello.txt", p("sym")))        // ntfs-3g writes an Interix link
	check(os.Symlink("../hello.txt", p("docs/up"))) // relative, one level up
	write("target.txt", []byte("target\n"))
	write("rsl", nil)
	check(unix.Setxattr(p("rsl"), "system.ntfs_reparse_data", reparseLink(tagSymlink, "target.txt", 1), 0))
	mkdir("junc")
	check(unix.Setxattr(p("junc"), "system.ntfs_reparse_data", reparseLink(tagMountPoint, `\??\C:\Windows`, -1), 0))
	write("readonly.txt", []byte("read only\n"))
	check(unix.Setxattr(p("readonly.txt"), "system.ntfs_attrib_be", []byte{0, 0, 0, 0x21}, 0))

	deleted := map[string]string{}
	// Fragmented: 1500 one-cluster files, a filler taking every free
	// cluster, the odd files deleted, then frag.bin can only go into the
	// 750 holes they leave; the filler goes too.
	mkdir("fill")
	for i := range 1500 {
		write(fmt.Sprintf("fill/s%04d", i), random(4096))
	}
	if f, err := os.Create(p("fill/filler")); err == nil {
		for _, chunk := range []int{1 << 20, 4096} {
			for b := random(chunk); ; {
				if _, err := f.Write(b); err != nil {
					break
				}
			}
		}
		f.Close()
	}
	for i := 1; i < 1500; i += 2 {
		name := fmt.Sprintf("fill/s%04d", i)
		deleted[name] = reused
		check(os.Remove(p(name)))
	}
	write("frag.bin", random(700*4096))
	check(os.Remove(p("fill/filler")))

	// Deleted: a resident file, a non-resident one, a directory with a
	// file, and a name taken again by a new file.

	del := func(name string, b []byte) {
		write(name, b)
		deleted[name] = sum(b)
	}
	del("gone.txt", []byte("gone but not forgotten\n"))
	del("gone.bin", random(200<<10))
	mkdir("olddir")
	del("olddir/inner.txt", text(9000))
	del("dup.txt", []byte("the first dup.txt\n"))
	for _, name := range []string{"gone.txt", "gone.bin", "olddir/inner.txt", "dup.txt"} {
		check(os.Remove(p(name)))
	}
	check(os.Remove(p("olddir")))
	write("dup.txt", []byte("the second dup.txt\n"))
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return deleted, nil
}

// reparseLink builds a symbolic link (flags >= 0) or junction reparse
// point as Windows writes them: substitute name first, then print name.
func reparseLink(tag uint32, subst string, flags int) []byte {
	enc := func(s string) []byte {
		u := utf16.Encode([]rune(s))
		b := make([]byte, 2*len(u))
		for i, c := range u {
			binary.LittleEndian.PutUint16(b[2*i:], c)
		}
		return b
	}
	s := enc(subst)
	pr := enc(strings.TrimPrefix(subst, `\??\`))
	body := binary.LittleEndian.AppendUint16(nil, 0)
	body = binary.LittleEndian.AppendUint16(body, uint16(len(s)))
	body = binary.LittleEndian.AppendUint16(body, uint16(len(s)))
	body = binary.LittleEndian.AppendUint16(body, uint16(len(pr)))
	if flags >= 0 {
		body = binary.LittleEndian.AppendUint32(body, uint32(flags))
	}
	body = append(append(body, s...), pr...)
	out := binary.LittleEndian.AppendUint32(nil, tag)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(body)))
	out = binary.LittleEndian.AppendUint16(out, 0)
	return append(out, body...)
}

// describeMount walks the mounted fixture as ntfs-3g shows it: every
// entry's content hash, size, mode, mtime, inode (the MFT record), link
// count and link target, and every user.* stream.
func describeMount(mnt string) (map[string]wantFile, error) {
	files := map[string]wantFile{}
	err := filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(mnt, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			if errors.Is(err, syscall.EIO) { // reparse points ntfs-3g cannot resolve: TestLinksAndModes
				files[rel] = wantFile{unstat: true}
				return nil
			}
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		w := wantFile{size: fi.Size(), mode: fi.Mode(), mtime: fi.ModTime(), ino: st.Ino, links: int(st.Nlink)}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			w.target, _ = os.Readlink(p)
			// ntfs-3g points a junction to another drive into its own
			// .NTFS-3G folder, when it can stat it at all.
			w.unstat = strings.Contains(w.target, "/.NTFS-3G/")
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			w.sha = sum(b)
		}
		files[rel] = w
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		sz, err := unix.Llistxattr(p, nil)
		if err != nil || sz == 0 {
			return nil
		}
		buf := make([]byte, sz)
		sz, _ = unix.Llistxattr(p, buf)
		for _, name := range strings.Split(string(buf[:sz]), "\x00") {
			if !strings.HasPrefix(name, "user.") {
				continue
			}
			n, err := unix.Lgetxattr(p, name, nil)
			if err != nil {
				return err
			}
			v := make([]byte, n)
			if n, err = unix.Lgetxattr(p, name, v); err != nil {
				return err
			}
			files[rel+":"+strings.TrimPrefix(name, "user.")] = wantFile{sha: sum(v[:n]), size: int64(n), ino: st.Ino, links: int(st.Nlink)}
		}
		return nil
	})
	return files, err
}

package ntfs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

func openImage(t *testing.T, img string, opts guestfs.Options) *FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(f, st.Size(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// walk lists every entry of the tree with its info, streams included.
func walk(t *testing.T, fsys fs.FS) map[string]fs.FileInfo {
	t.Helper()
	got := map[string]fs.FileInfo{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		got[p] = fi
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func fileSum(t *testing.T, fsys fs.FS, name string) string {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestAgainstNTFS3G: every live file and stream ntfs-3g showed reads
// through the reader with the same sha256, size, mtime, MFT record, link
// count and link target, and nothing else is listed.
func TestAgainstNTFS3G(t *testing.T) {
	fx := ntfs3gImage(t)
	v := openImage(t, fx.img, guestfs.Options{})
	if w := v.Warnings(); len(w) > 0 {
		t.Errorf("warnings on a clean volume: %q", w)
	}
	got := walk(t, v)
	for p, want := range fx.files {
		fi, ok := got[p]
		if !ok {
			t.Errorf("%s: not listed", p)
			continue
		}
		if want.unstat {
			continue
		}
		in := fi.Sys().(*guestfs.Info)
		if in.ID != want.ino || in.State != guestfs.Live || in.FS != "NTFS" {
			t.Errorf("%s: info %+v, want ID %d, live", p, in, want.ino)
		}
		if strings.Contains(path.Base(p), ":") != (in.Stream != "") {
			t.Errorf("%s: stream %q", p, in.Stream)
		}
		if fi.IsDir() != want.mode.IsDir() || (fi.Mode()&fs.ModeSymlink != 0) != (want.mode&fs.ModeSymlink != 0) {
			t.Errorf("%s: mode %v, ntfs-3g %v", p, fi.Mode(), want.mode)
		}
		if in.Stream == "" && !fi.IsDir() && in.Links != want.links {
			t.Errorf("%s: %d links, ntfs-3g %d", p, in.Links, want.links)
		}
		if in.Stream == "" && !want.mtime.Equal(fi.ModTime()) {
			t.Errorf("%s: mtime %v, ntfs-3g %v", p, fi.ModTime(), want.mtime)
		}
		switch {
		case want.target != "":
			target, err := v.ReadLink(p)
			if err != nil || target != want.target {
				t.Errorf("%s: link to %q (%v), ntfs-3g %q", p, target, err, want.target)
			}
		case want.sha != "":
			if fi.Size() != want.size {
				t.Errorf("%s: size %d, ntfs-3g %d", p, fi.Size(), want.size)
			}
			if s := fileSum(t, v, p); s != want.sha {
				t.Errorf("%s: sha256 %s, ntfs-3g %s", p, s, want.sha)
			}
		}
	}
	for p := range got {
		if _, ok := fx.files[p]; !ok {
			t.Errorf("%s: listed, but not by ntfs-3g", p)
		}
	}
}

// TestLinksAndModes checks what the mount cannot show: reparse-point
// links ntfs-3g cannot resolve, and the read-only attribute.
func TestLinksAndModes(t *testing.T) {
	fx := ntfs3gImage(t)
	v := openImage(t, fx.img, guestfs.Options{})
	for name, want := range map[string]string{"rsl": "target.txt", "junc": `C:\Windows`, "sym": "hello.txt", "docs/up": "../hello.txt"} {
		if got, err := v.ReadLink(name); err != nil || got != want {
			t.Errorf("ReadLink(%s) = %q, %v; want %q", name, got, err, want)
		}
		fi, err := v.Lstat(name)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("Lstat(%s) = %v, %v; want a symlink", name, fi, err)
		}
	}
	// Relative links are followed; a junction to C:\ stands for itself.
	for name, want := range map[string]string{"rsl": "target\n", "sym": "hello world\n", "docs/up": "hello world\n"} {
		if b, err := fs.ReadFile(v, name); err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", name, b, err, want)
		}
	}
	if fi, err := v.Stat("junc"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Stat(junc) = %v, %v", fi, err)
	}
	if fi, err := v.Stat("readonly.txt"); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("Stat(readonly.txt) = %v, %v; want mode 0444", fi, err)
	}
	if fi, err := v.Stat("HELLO.TXT"); err != nil || fi.Name() != "hello.txt" {
		t.Errorf("case-insensitive Stat(HELLO.TXT) = %v, %v", fi, err)
	}
	if _, err := v.Stat("docs/report.doc:nosuch"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing stream: %v", err)
	}
}

// TestAgainstNTFSCat: the files the library reads wrong (fragmented
// across extension records, compressed, sparse) read as ntfscat reads
// them, streams included.
func TestAgainstNTFSCat(t *testing.T) {
	fx := ntfs3gImage(t)
	ntfscat := testenv.Tool(t, "ntfscat")
	v := openImage(t, fx.img, guestfs.Options{})
	for _, name := range []string{"frag.bin", "holes.bin", "sparse.bin", "comp/text.txt", "comp/rand.bin", "comp/mixed.bin", "comp/odd.txt", "docs/report.doc:big"} {
		file, stream, _ := strings.Cut(name, ":")
		args := []string{fx.img, "/" + file}
		if stream != "" {
			args = []string{"-n", stream, fx.img, "/" + file}
		}
		out, err := exec.Command(ntfscat, args...).Output()
		if err != nil {
			t.Fatalf("ntfscat %s: %v", name, err)
		}
		if got, want := fileSum(t, v, name), sum(out); got != want {
			t.Errorf("%s: sha256 %s, ntfscat %s", name, got, want)
		}
	}
}

// TestAgainstNTFSLs: the names and MFT records of every directory equal
// ntfsls's.
func TestAgainstNTFSLs(t *testing.T) {
	fx := ntfs3gImage(t)
	ntfsls := testenv.Tool(t, "ntfsls")
	out, err := exec.Command(ntfsls, "-R", "-i", fx.img).Output()
	if err != nil {
		t.Fatalf("ntfsls: %v", err)
	}
	var want []string
	dir := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
		case strings.HasSuffix(line, ":") && strings.HasPrefix(line, "/"):
			dir = strings.TrimSuffix(strings.TrimPrefix(line, "/"), ":")
		default:
			ino, name, _ := strings.Cut(strings.TrimSpace(line), " ")
			if name != "." && name != ".." {
				want = append(want, path.Join(dir, name)+" "+ino)
			}
		}
	}
	v := openImage(t, fx.img, guestfs.Options{})
	var got []string
	for p, fi := range walk(t, v) {
		if in := fi.Sys().(*guestfs.Info); in.Stream == "" {
			got = append(got, p+" "+strconv.FormatUint(in.ID, 10))
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("listing differs from ntfsls's: ours only %q, ntfsls's only %q", minus(got, want), minus(want, got))
	}
}

// minus returns the elements of a that b lacks.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// TestDeleted: with Options.Deleted the deleted files are listed at their
// old path, a taken name as NAME~deleted-ID, and read back as they were.
func TestDeleted(t *testing.T) {
	fx := ntfs3gImage(t)
	v := openImage(t, fx.img, guestfs.Options{Deleted: true})
	got := walk(t, v)
	found := map[string]bool{}
	lost := 0
	for p, fi := range got {
		in := fi.Sys().(*guestfs.Info)
		if in.State != guestfs.Deleted {
			if _, ok := fx.files[p]; !ok {
				t.Errorf("%s: live, but not listed by ntfs-3g", p)
			}
			continue
		}
		old := p
		if i := strings.Index(p, "~deleted-"); i >= 0 {
			old = p[:i]
		}
		want, ok := fx.deleted[old]
		if !ok {
			continue
		}
		found[old] = true
		if in.Lost != 0 {
			lost++
		}
		if want == reused {
			continue
		}
		if in.Lost != 0 {
			t.Errorf("%s: %d bytes marked as overwritten", p, in.Lost)
		}
		if s := fileSum(t, v, p); s != want {
			t.Errorf("%s: sha256 %s, was %s", p, s, want)
		}
	}
	for p := range fx.deleted {
		if !found[p] {
			t.Errorf("%s: deleted, not listed", p)
		}
	}
	if fi, ok := got["dup.txt"]; !ok || fi.Sys().(*guestfs.Info).State != guestfs.Live {
		t.Errorf("dup.txt: the live file lost its name to the deleted one")
	}
	// frag.bin took the clusters of the deleted fill/s* files.
	if lost < 500 {
		t.Errorf("%d deleted files marked as overwritten, want most of the 750 frag.bin took", lost)
	}
	if _, ok := got["olddir"]; !ok {
		t.Errorf("olddir: the deleted directory is not listed")
	}
}

// TestConcurrentReads: goroutines reading one compressed file and one
// fragmented file at random offsets (the compressed stream keeps one
// decompressed unit, under a mutex) read what a sequential read does.
func TestConcurrentReads(t *testing.T) {
	fx := ntfs3gImage(t)
	v := openImage(t, fx.img, guestfs.Options{})
	for _, name := range []string{"comp/text.txt", "comp/mixed.bin", "frag.bin"} {
		want, err := fs.ReadFile(v, name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := v.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		r := f.(io.ReaderAt)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(g)))
				buf := make([]byte, 70000)
				for range 50 {
					off := rng.Int63n(int64(len(want)))
					n, err := r.ReadAt(buf[:rng.Intn(len(buf))+1], off)
					if err != nil && err != io.EOF {
						t.Error(err)
						return
					}
					if !bytes.Equal(buf[:n], want[off:off+int64(n)]) {
						t.Errorf("%s: %d bytes at %d differ from a sequential read", name, n, off)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

// TestAttributeListChecks: an attribute list claiming more than any file
// needs, or naming an extension record that belongs to another file now
// (reused after a deletion), is an error naming the record, and the file
// is left out of its directory with a warning, rather than read entry by
// entry or from another file's attributes.
func TestAttributeListChecks(t *testing.T) {
	fx := ntfs3gImage(t)
	clean, err := os.ReadFile(fx.img)
	if err != nil {
		t.Fatal(err)
	}
	rec, list := attrOffset(t, clean, "holes.bin", attrAttributeList)
	if clean[list+8] == 0 {
		t.Fatal("holes.bin's attribute list is resident; the test patches a non-resident one")
	}
	id := int64(binary.LittleEndian.Uint32(clean[rec+0x2C:]))
	v := openBytes(t, clean)
	direct, err := v.directRecord(id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := v.openStream(direct.pieces(attrAttributeList, ""), "test")
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]byte, s.size)
	s.ReadAt(entries, 0)
	var ext int64
	for i := 0; ext == 0 || ext == id; i += int(binary.LittleEndian.Uint16(entries[i+4:])) {
		ext = int64(binary.LittleEndian.Uint64(entries[i+0x10:]) & (1<<48 - 1))
	}
	for name, c := range map[string]struct {
		patch func(img []byte)
		warn  string
	}{
		"size": {func(img []byte) { binary.LittleEndian.PutUint64(img[list+0x30:], 1<<30) }, "attribute list of 1073741824 bytes"},
		"reused extension": {func(img []byte) {
			binary.LittleEndian.PutUint64(img[v.recordOffset(ext)+0x20:], 77)
		}, fmt.Sprintf("names MFT record %d, which belongs to record 77", ext)},
	} {
		t.Run(name, func(t *testing.T) {
			img := slices.Clone(clean)
			c.patch(img)
			v := openBytes(t, img)
			if _, err := v.Stat("holes.bin"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(holes.bin): %v", err)
			}
			if w := strings.Join(v.Warnings(), "\n"); !strings.Contains(w, "MFT record "+strconv.FormatInt(id, 10)) || !strings.Contains(w, c.warn) {
				t.Errorf("warnings %q do not say %q of record %d", w, c.warn, id)
			}
		})
	}
}

// TestOrphans: a deleted file whose parent's record was reused since (its
// reference's sequence number no longer matches) is listed in the orphan
// directory as ID-NAME; a deleted directory that names itself as parent is
// listed there once, with its files below, and the walk ends.
func TestOrphans(t *testing.T) {
	fx := ntfs3gImage(t)
	img, err := os.ReadFile(fx.img)
	if err != nil {
		t.Fatal(err)
	}
	v := openBytes(t, img)
	ids := map[string]int64{}
	for _, name := range []string{"gone.txt", "olddir"} {
		fi, err := v.Lstat(name)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = int64(fi.Sys().(*guestfs.Info).ID)
	}
	fileName := func(id int64) int64 {
		rec := v.recordOffset(id)
		for a := rec + int64(binary.LittleEndian.Uint16(img[rec+0x14:])); ; a += int64(binary.LittleEndian.Uint32(img[a+4:])) {
			if binary.LittleEndian.Uint32(img[a:]) == attrFileName {
				return a + int64(binary.LittleEndian.Uint16(img[a+0x14:]))
			}
		}
	}
	binary.LittleEndian.PutUint16(img[fileName(ids["gone.txt"])+6:], 0x7777)
	binary.LittleEndian.PutUint64(img[fileName(ids["olddir"]):], uint64(ids["olddir"]))
	damaged := openBytes(t, img)
	got := walk(t, damaged)
	orphan := func(name string) string {
		return guestfs.OrphanDir + "/" + strconv.FormatInt(ids[name], 10) + "-" + name
	}
	for p, want := range map[string]string{
		orphan("gone.txt"):              fx.deleted["gone.txt"],
		orphan("olddir") + "/inner.txt": fx.deleted["olddir/inner.txt"],
	} {
		fi, ok := got[p]
		if !ok {
			t.Errorf("%s: not listed", p)
			continue
		}
		if fi.Sys().(*guestfs.Info).State != guestfs.Deleted {
			t.Errorf("%s: not deleted", p)
		}
		if s := fileSum(t, damaged, p); s != want {
			t.Errorf("%s: sha256 %s, was %s", p, s, want)
		}
	}
	for _, p := range []string{"gone.txt", "olddir"} {
		if _, ok := got[p]; ok {
			t.Errorf("%s: still at its old path", p)
		}
	}
}

// TestDirectoryLoop: an index entry naming a directory up the tree (here
// docs/sub's entry for deep.txt made to point at docs) is left out with a
// warning, and the walk ends.
func TestDirectoryLoop(t *testing.T) {
	fx := ntfs3gImage(t)
	img, err := os.ReadFile(fx.img)
	if err != nil {
		t.Fatal(err)
	}
	v := openBytes(t, img)
	docs, err := v.Lstat("docs")
	if err != nil {
		t.Fatal(err)
	}
	_, root := attrOffset(t, img, "docs/sub", attrIndexRoot)
	content := root + int64(binary.LittleEndian.Uint16(img[root+0x14:]))
	entry := content + 0x10 + int64(binary.LittleEndian.Uint32(img[content+0x10:]))
	binary.LittleEndian.PutUint64(img[entry:], docs.Sys().(*guestfs.Info).ID|1<<48)
	v = openBytes(t, img)
	got := walk(t, v)
	if _, ok := got["docs/sub/deep.txt"]; ok {
		t.Error("the entry pointing back up the tree is listed")
	}
	if _, ok := got["docs/sub"]; !ok {
		t.Error("docs/sub is no longer listed")
	}
	if w := strings.Join(v.Warnings(), "\n"); !strings.Contains(w, `entry "deep.txt" names directory`) {
		t.Errorf("warnings %q do not name the looping entry", w)
	}
}

package exfat

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/guestfstest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i>>11) ^ seed
	}
	return b
}

// image is an exFAT volume made by mkfs.exfat and filled through
// exfat-fuse on a loop device, with what the test knows of it.
type image struct {
	data    []byte
	files   map[string][]byte    // live files by path
	mtimes  map[string]time.Time // as the FUSE mount showed them
	deleted map[string][]byte    // deleted files by name, in the root
}

func runTool(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// mkfsFilled makes an exFAT image of size bytes in dir with mkfs.exfat,
// mounts it through exfat-fuse on a loop device, lets fill write to the
// mount, unmounts it and checks it with fsck.exfat.
func mkfsFilled(t testing.TB, dir string, size int64, fill func(mnt string)) string {
	testenv.Tool(t, "fsck.exfat")
	losetup := testenv.Tool(t, "losetup")
	img := filepath.Join(dir, "exfat.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	runTool(t, "mkfs.exfat", "-L", "TESTVOL", img)
	out, err := exec.Command(losetup, "-f", "--show", img).CombinedOutput()
	if err != nil {
		testenv.Lacks(t, "no loop device for exfat-fuse (needs root and /dev/loop*): %v %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	defer exec.Command(losetup, "-d", loop).Run()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command(testenv.Tool(t, "mount.exfat-fuse"), loop, mnt).CombinedOutput(); err != nil {
		testenv.Lacks(t, "exfat-fuse cannot mount here (needs /dev/fuse): %v %s", err, out)
	}
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	}()
	fill(mnt)
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	mounted = false
	runTool(t, "fsck.exfat", "-n", img)
	return img
}

func makeImage(t *testing.T) *image {
	im := &image{files: map[string][]byte{
		"Hello.TXT":        []byte("hello\n"),
		"empty":            nil,
		"dir/sub/rand.bin": pattern(100000, 1),
		"Ünïcödé ñame.txt": []byte("unicode"),
		"a name longer than fifteen characters, over three entries.dat": pattern(5000, 2),
	}, mtimes: map[string]time.Time{}, deleted: map[string][]byte{
		"gone.bin":         pattern(300000, 3),
		"gone-frag.bin":    nil, // filled below
		"olddir/inner.txt": pattern(7000, 10),
	}}
	img := mkfsFilled(t, t.TempDir(), 8<<20, func(mnt string) { im.fill(t, mnt) })
	var err error
	if im.data, err = os.ReadFile(img); err != nil {
		t.Fatal(err)
	}
	return im
}

// fill writes the image's files through the mount and deletes some.
func (im *image) fill(t *testing.T, mnt string) {
	write := func(name string, data []byte, flag int) {
		f, err := os.OpenFile(filepath.Join(mnt, name), os.O_WRONLY|os.O_CREATE|flag, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(mnt, "dir/sub"), 0o755)
	for name, data := range im.files {
		write(name, data, os.O_TRUNC)
	}
	// Fragmented files: each grows after another took the cluster after
	// it, so their clusters are chained in the FAT.
	write("frag1", pattern(5000, 4), os.O_TRUNC)
	write("gone-frag.bin", pattern(5000, 5), os.O_TRUNC)
	write("frag2", pattern(5000, 6), os.O_TRUNC)
	write("frag1", pattern(20000, 7), os.O_APPEND)
	write("gone-frag.bin", pattern(20000, 8), os.O_APPEND)
	im.files["frag1"] = append(pattern(5000, 4), pattern(20000, 7)...)
	im.files["frag2"] = pattern(5000, 6)
	im.deleted["gone-frag.bin"] = append(pattern(5000, 5), pattern(20000, 8)...)
	os.Mkdir(filepath.Join(mnt, "olddir"), 0o755)
	for name, data := range im.deleted {
		write(name, data, os.O_TRUNC)
	}
	os.Remove(filepath.Join(mnt, "gone.bin"))
	os.Remove(filepath.Join(mnt, "gone-frag.bin"))
	if err := os.RemoveAll(filepath.Join(mnt, "olddir")); err != nil {
		t.Fatal(err)
	}
	for name := range im.files {
		fi, err := os.Stat(filepath.Join(mnt, name))
		if err != nil {
			t.Fatal(err)
		}
		im.mtimes[name] = fi.ModTime()
	}
}

func TestExfatFuse(t *testing.T) {
	im := makeImage(t)
	f, err := Open(bytes.NewReader(im.data), int64(len(im.data)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Label != "TESTVOL" || f.Type() != "exFAT" || len(f.Warnings()) != 0 {
		t.Errorf("label %q, warnings %q", f.Label, f.Warnings())
	}
	// The geometry and the root's entries as dump.exfat (exfatprogs) reads
	// them.
	img := filepath.Join(t.TempDir(), "exfat.img")
	os.WriteFile(img, im.data, 0o644)
	dump := string(runTool(t, "dump.exfat", img))
	for field, want := range map[string]any{
		"Volume label":                  f.Label,
		"Cluster Count":                 f.clusters,
		"Root Cluster (cluster offset)": f.rootCluster,
		"Bitmap start cluster":          f.clusterAt(f.bitmap.data.List[0].Dev),
		"Cluster size":                  f.clusterSize,
	} {
		var got string
		for _, line := range strings.Split(dump, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == field {
				got = strings.TrimSpace(v)
			}
		}
		if got != fmt.Sprint(want) {
			t.Errorf("dump.exfat %s: %q, ours %v", field, got, want)
		}
	}
	var got, want []string
	for name := range im.files {
		want = append(want, name)
	}
	sort.Strings(want)
	chained, contiguous := 0, 0
	err = fs.WalkDir(f, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got = append(got, p)
		b, err := fs.ReadFile(f, p)
		if err != nil {
			return err
		}
		if sha256.Sum256(b) != sha256.Sum256(im.files[p]) {
			t.Errorf("%s: sha256 differs (%d bytes, want %d)", p, len(b), len(im.files[p]))
		}
		fi, _ := d.Info()
		if !fi.ModTime().Equal(im.mtimes[p]) {
			t.Errorf("%s: modified %v, the mount said %v", p, fi.ModTime(), im.mtimes[p])
		}
		if info := fi.Sys().(*guestfs.Info); info.State != guestfs.Live || info.FS != "exFAT" {
			t.Errorf("%s: %+v", p, info)
		}
		n, _ := f.lookup("stat", p)
		if n.size > f.clusterSize {
			if n.noFatChain {
				contiguous++
			} else {
				chained++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("listed %q, want %q", got, want)
	}
	if chained == 0 || contiguous == 0 {
		t.Errorf("%d files along FAT chains, %d NoFatChain: the test wants both", chained, contiguous)
	}
	if err := fstest.TestFS(f, want...); err != nil {
		t.Fatal(err)
	}
	// Names compare through the up-case table.
	for _, name := range []string{"HELLO.txt", "ÜNÏCÖDÉ ÑAME.TXT", "DIR/Sub/RAND.BIN"} {
		if _, err := f.Stat(name); err != nil {
			t.Errorf("case-insensitive %s: %v", name, err)
		}
	}
	if _, err := f.ReadLink("Hello.TXT"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink: %v", err)
	}

	d, err := Open(bytes.NewReader(im.data), int64(len(im.data)), guestfs.Options{Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	// gone.bin was contiguous (NoFatChain) and comes back whole.
	// gone-frag.bin was chained, and exfat-fuse clears the chain of a
	// file it deletes: read contiguously, its first two clusters are its
	// own, the rest belongs to frag2 and frag1 now, and counts as lost.
	// olddir was removed with what it held: the directory lists, and
	// inner.txt in it.
	for name, want := range map[string]int64{"gone.bin": 0, "gone-frag.bin": 25000 - 2*f.clusterSize, "olddir/inner.txt": 0} {
		b, err := fs.ReadFile(d, name)
		ok := int64(len(b)) - want
		if err != nil || int64(len(b)) != int64(len(im.deleted[name])) || !bytes.Equal(b[:ok], im.deleted[name][:ok]) {
			t.Errorf("deleted %s: %v (%d bytes, want %d)", name, err, len(b), len(im.deleted[name]))
			continue
		}
		fi, _ := d.Stat(name)
		if info := fi.Sys().(*guestfs.Info); info.State != guestfs.Deleted || info.Lost != want {
			t.Errorf("deleted %s: %+v, want %d bytes lost", name, info, want)
		}
	}
}

// setStream rewrites the stream extension of path's entry set through
// edit and mends the set's checksum.
func setStream(t *testing.T, data []byte, path string, edit func(stream []byte)) {
	f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.lookup("stat", path)
	if err != nil {
		t.Fatal(err)
	}
	set := data[n.off : n.off+32*int64(data[n.off+1]+1)]
	edit(set[32:64])
	var sum uint16
	for i, c := range set {
		if i != 2 && i != 3 {
			sum = (sum>>1 | sum<<15) + uint16(c)
		}
	}
	binary.LittleEndian.PutUint16(set[2:], sum)
}

func TestValidDataLength(t *testing.T) {
	im := makeImage(t)
	data := bytes.Clone(im.data)
	setStream(t, data, "dir/sub/rand.bin", func(s []byte) { binary.LittleEndian.PutUint64(s[8:], 50000) })
	f, _ := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{})
	b, err := fs.ReadFile(f, "dir/sub/rand.bin")
	want := bytes.Clone(im.files["dir/sub/rand.bin"])
	clear(want[50000:])
	if err != nil || !bytes.Equal(b, want) {
		t.Errorf("bytes past ValidDataLength are not zeros: %v", err)
	}
	r, _ := f.Open("dir/sub/rand.bin")
	p := make([]byte, 100)
	if n, err := r.(io.ReaderAt).ReadAt(p, 49950); n != 100 || err != nil || !bytes.Equal(p, want[49950:50050]) {
		t.Errorf("ReadAt across ValidDataLength: %d %v", n, err)
	}
}

func TestDamage(t *testing.T) {
	im := makeImage(t)

	// The main boot region fails its checksum: the backup opens.
	main := bytes.Clone(im.data)
	main[100] ^= 0xFF // VolumeSerialNumber
	f, err := Open(bytes.NewReader(main), int64(len(main)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := f.Warnings(); len(w) != 1 || !strings.Contains(w[0], "backup") {
		t.Errorf("warnings %q", w)
	}
	if b, err := fs.ReadFile(f, "frag1"); err != nil || !bytes.Equal(b, im.files["frag1"]) {
		t.Errorf("frag1 through the backup boot region: %v", err)
	}
	// Both regions gone: not exFAT.
	both := bytes.Clone(main)
	both[12*512+100] ^= 0xFF
	var fe *ondisk.FormatError
	if _, err := Open(bytes.NewReader(both), int64(len(both)), guestfs.Options{}); !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("both boot regions damaged: %v", err)
	}

	// A FAT chain that loops.
	loop := bytes.Clone(im.data)
	f, _ = Open(bytes.NewReader(loop), int64(len(loop)), guestfs.Options{})
	n, _ := f.lookup("stat", "frag1")
	binary.LittleEndian.PutUint32(loop[f.fatOff+4*int64(n.cluster):], n.cluster)
	f, _ = Open(bytes.NewReader(loop), int64(len(loop)), guestfs.Options{})
	if _, err := fs.ReadFile(f, "frag1"); !errors.Is(err, ErrCorrupt) || !errors.As(err, &fe) {
		t.Errorf("looping chain: %v", err)
	}

	// An entry set that fails its checksum is skipped with a warning.
	bad := bytes.Clone(im.data)
	bad[n.off+40] ^= 1
	f, _ = Open(bytes.NewReader(bad), int64(len(bad)), guestfs.Options{})
	if _, err := f.Stat("frag1"); !errors.Is(err, fs.ErrNotExist) || len(f.Warnings()) != 1 {
		t.Errorf("damaged set: %v, warnings %q", err, f.Warnings())
	}
}

func TestTimestamp(t *testing.T) {
	// 2024-02-29 13:45:58.37 at UTC-03:30 (offset -14 quarters).
	ts := uint32(44)<<25 | 2<<21 | 29<<16 | 13<<11 | 45<<5 | 29
	got := timestamp(ts, 37, 0x80|byte(-14&0x7F))
	want := time.Date(2024, 2, 29, 13, 45, 58, 370e6, time.FixedZone("", -(3*3600+30*60)))
	if !got.Equal(want) {
		t.Errorf("%v, want %v", got, want)
	}
	if _, off := got.Zone(); off != -(3*3600 + 30*60) {
		t.Errorf("offset %d", off)
	}
}

var regenerate = flag.Bool("regenerate", false, "rewrite "+sampleFile+" with mkfs.exfat and exfat-fuse")

// sampleFile is an image made by makeImage (mkfs.exfat of exfatprogs
// 1.2.0, filled by exfat-fuse 1.3.0), kept so that the tests and the fuzz
// target run where those tools or loop devices are missing.
const sampleFile = "testdata/exfat-fuse-8m.img.gz"

func sample(t testing.TB) []byte {
	if *regenerate {
		im := makeImage(t.(*testing.T))
		var buf bytes.Buffer
		z, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		z.Write(im.data)
		z.Close()
		if err := os.WriteFile(sampleFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSample(t *testing.T) {
	data := sample(t)
	f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{
		"dir/sub/rand.bin": pattern(100000, 1),
		"frag1":            append(pattern(5000, 4), pattern(20000, 7)...),
		"gone.bin":         pattern(300000, 3),
		"olddir/inner.txt": pattern(7000, 10),
	} {
		if b, err := fs.ReadFile(f, name); err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := fstest.TestFS(f, "gone.bin", "gone-frag.bin", "olddir/inner.txt", "frag1", "dir/sub/rand.bin"); err != nil {
		t.Fatal(err)
	}
}

// overlay reads parts over base at their offsets without copying base.
type overlay struct {
	base  []byte
	parts map[int64][]byte
}

func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(o.base)) {
		return 0, io.EOF
	}
	n := copy(p, o.base[off:])
	for at, b := range o.parts {
		lo, hi := max(at, off), min(at+int64(len(b)), off+int64(n))
		if lo < hi {
			copy(p[lo-off:hi-off], b[lo-at:hi-at])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// FuzzOpen damages the boot region, the FAT and the root directory of
// the sample. Whatever the damage, Open answers; a file reads its size
// or fails; random access agrees with the sequential read; the deleted
// files listed are beside, never instead of, the live ones.
func FuzzOpen(f *testing.F) {
	data := sample(f)
	const fatOff, rootOff = 2048 * 512, 4096*512 + 3*4096 // cluster 5
	f.Add(data[:24*512], data[fatOff:fatOff+256], data[rootOff:rootOff+4096], false)
	f.Add(data[:512], data[fatOff:fatOff+64], data[rootOff:rootOff+1024], true)
	f.Fuzz(func(t *testing.T, boot, fat, root []byte, deleted bool) {
		if len(boot) > 24*512 || len(fat) > 8192 || len(root) > 8192 {
			return
		}
		r := &overlay{data, map[int64][]byte{0: boot, fatOff: fat, rootOff: root}}
		v, err := Open(r, int64(len(data)), guestfs.Options{Deleted: deleted})
		if err != nil {
			var fe *ondisk.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Open: %v is no FormatError", err)
			}
			return
		}
		budget := int64(4 << 20)
		live := map[string]bool{}
		fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			fi, err := d.Info()
			if err != nil || fi.Size() > 1<<20 || budget < 0 {
				return nil
			}
			budget -= fi.Size()
			if fi.Sys().(*guestfs.Info).State == guestfs.Live {
				live[p] = true
			}
			guestfstest.CheckFile(t, v, p, 1<<20, func(error) bool { return true })
			return nil
		})
		if deleted {
			return
		}
		w, err := Open(r, int64(len(data)), guestfs.Options{Deleted: true})
		if err != nil {
			t.Fatalf("opens without Deleted, not with: %v", err)
		}
		for p := range live {
			if fi, err := w.Stat(p); err != nil || fi.Sys().(*guestfs.Info).State != guestfs.Live {
				t.Fatalf("%s: live without Deleted, %v with", p, err)
			}
		}
	})
}

// TestConcurrentWalks reads the sample from several goroutines at once, as
// the FUSE mount and export do (the caches and the warnings are shared).
func TestConcurrentWalks(t *testing.T) {
	data := sample(t)
	f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			errs <- fs.WalkDir(f, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				_, err = fs.ReadFile(f, p)
				f.Warnings()
				return err
			})
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

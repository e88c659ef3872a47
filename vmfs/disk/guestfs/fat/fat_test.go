package fat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/fat/fattest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/guestfstest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func goImage(t testing.TB) []byte {
	img, err := fattest.FAT16(4<<20, "BOOTBANK1", map[string][]byte{
		"boot.cfg":  []byte("bootstate=0\nupdated=3\n"),
		"state.tgz": pattern(70000, 1),
		"empty.txt": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestGoBuiltFAT16(t *testing.T) {
	img := goImage(t)
	f, err := Open(bytes.NewReader(img), int64(len(img)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Type() != "FAT16" || !f.VMware || f.Label != "BOOTBANK1" {
		t.Errorf("type %s vmware %v label %q", f.Type(), f.VMware, f.Label)
	}
	got, err := fs.ReadFile(f, "STATE.TGZ") // names match case-insensitively
	if err != nil || !bytes.Equal(got, pattern(70000, 1)) {
		t.Fatalf("state.tgz: %v", err)
	}
	if err := fstest.TestFS(f, "boot.cfg", "state.tgz", "empty.txt"); err != nil {
		t.Fatal(err)
	}
}

// mtools runs an mtools command on a volume image.
func mtools(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, name), args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.Bytes())
	}
	return out
}

// mkfs builds a volume with mkfs.fat and fills it with mtools: files in
// the root and in subdirectories, a long name, an empty file (start
// cluster 0); then deletes a file with a long name and a directory tree.
// It returns the image and the deleted files as Options.Deleted lists them.
func mkfs(t *testing.T, fatType string, sizeMB int) (string, map[string][]byte) {
	mkfsFat := testenv.Tool(t, "mkfs.fat")
	dir := t.TempDir()
	img := filepath.Join(dir, "fat.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, int64(sizeMB)<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfsFat, "-F", fatType, "-n", "BOOTBANK2", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.fat: %v\n%s", err, out)
	}
	files := map[string][]byte{
		"boot.cfg":                         []byte("bootstate=0\ntitle=Loading VMware ESXi\nupdated=2\n"),
		"state.tgz":                        pattern(300000, 2),
		"A Long File Name With Spaces.txt": []byte("long name"),
		"sub/dir/deep.bin":                 pattern(5000, 3),
		"empty.txt":                        nil,
		"Gone Away.bin":                    pattern(9000, 4),
		"old/inner.dat":                    pattern(3000, 5),
	}
	mtools(t, "mmd", "-i", img, "::sub", "::sub/dir", "::old")
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src := filepath.Join(dir, "src")
		os.WriteFile(src, files[name], 0o644)
		mtools(t, "mcopy", "-i", img, src, "::"+name)
	}
	mtools(t, "mdel", "-i", img, "::Gone Away.bin")
	mtools(t, "mdeltree", "-i", img, "::old")
	// "old" and its inner.dat had no long name: their short names lost
	// their first letter.
	return img, map[string][]byte{"Gone Away.bin": files["Gone Away.bin"], "_ld/_nner.dat": files["old/inner.dat"]}
}

func TestMkfsVolumes(t *testing.T) {
	for _, c := range []struct {
		typ  string
		mb   int
		want int
	}{{"12", 2, 12}, {"16", 16, 16}, {"32", 40, 32}} {
		t.Run("FAT"+c.typ, func(t *testing.T) {
			img, deleted := mkfs(t, c.typ, c.mb)
			data, _ := os.ReadFile(img)
			f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if f.Bits != c.want || f.Label != "BOOTBANK2" || f.Type() != "FAT"+c.typ {
				t.Errorf("type %s label %q", f.Type(), f.Label)
			}
			// Every file mtools lists, and no other, with mtools' bytes.
			var want, got []string
			for _, line := range strings.Split(strings.TrimSpace(string(mtools(t, "mdir", "-i", img, "-/", "-b", "::"))), "\n") {
				if p := strings.TrimPrefix(line, "::/"); !strings.HasSuffix(p, "/") {
					want = append(want, p)
				}
			}
			err = fs.WalkDir(f, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				got = append(got, p)
				b, err := fs.ReadFile(f, p)
				if err != nil {
					return err
				}
				if ref := mtools(t, "mcopy", "-i", img, "::"+p, "-"); !bytes.Equal(b, ref) {
					t.Errorf("%s: %d bytes differ from mcopy's %d", p, len(b), len(ref))
				}
				fi, _ := d.Info()
				if info, ok := fi.Sys().(*guestfs.Info); !ok || info.FS != f.Type() || info.State != guestfs.Live || (info.ID == 0) != (fi.Size() == 0) {
					t.Errorf("%s: Sys() = %+v", p, fi.Sys())
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(want)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("listed %q, mdir %q", got, want)
			}
			if err := fstest.TestFS(f, got...); err != nil {
				t.Fatal(err)
			}
			if _, err := f.ReadLink("boot.cfg"); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("ReadLink: %v", err)
			}

			// With Options.Deleted, the deleted files come back whole.
			d, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{Deleted: true})
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range deleted {
				b, err := fs.ReadFile(d, name)
				if err != nil || !bytes.Equal(b, want) {
					t.Errorf("deleted %s: %v (%d bytes, want %d)", name, err, len(b), len(want))
					continue
				}
				fi, _ := d.Stat(name)
				if info := fi.Sys().(*guestfs.Info); info.State != guestfs.Deleted || info.Lost != 0 {
					t.Errorf("deleted %s: %+v", name, info)
				}
			}
			if err := fstest.TestFS(d, append(got, "Gone Away.bin", "_ld/_nner.dat")...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A deleted file whose clusters were partly taken again reads what is
// there now and counts the bytes it lost; one whose first cluster was
// taken is not listed.
func TestDeletedReused(t *testing.T) {
	img, _ := mkfs(t, "16", 16)
	data, _ := os.ReadFile(img)
	f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat("Gone Away.bin")
	if err != nil {
		t.Fatal(err)
	}
	first := uint32(fi.Sys().(*guestfs.Info).ID)
	if f.clusterSize >= 9000 {
		t.Fatalf("cluster of %d bytes: the file needs two", f.clusterSize)
	}
	taken := bytes.Clone(data)
	binary.LittleEndian.PutUint16(taken[f.fatOff+2*int64(first+1):], 0xFFFF)
	g, _ := Open(bytes.NewReader(taken), int64(len(taken)), guestfs.Options{Deleted: true})
	fi, err = g.Stat("Gone Away.bin")
	if err != nil {
		t.Fatal(err)
	}
	if lost := fi.Sys().(*guestfs.Info).Lost; lost != min(f.clusterSize, 9000-f.clusterSize) {
		t.Errorf("Lost = %d with cluster %d of %d bytes taken", lost, first+1, f.clusterSize)
	}
	binary.LittleEndian.PutUint16(taken[f.fatOff+2*int64(first):], 0xFFFF)
	h, _ := Open(bytes.NewReader(taken), int64(len(taken)), guestfs.Options{Deleted: true})
	if _, err := h.Stat("Gone Away.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted file whose first cluster was taken: %v", err)
	}
}

// A FAT32 volume whose boot sector is zeroed opens from the copy at
// sector 6.
func TestBackupBootSector(t *testing.T) {
	img, _ := mkfs(t, "32", 40)
	data, _ := os.ReadFile(img)
	clear(data[:512])
	f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings()) != 1 || !strings.Contains(f.Warnings()[0], "backup") {
		t.Errorf("warnings %q", f.Warnings())
	}
	if b, err := fs.ReadFile(f, "sub/dir/deep.bin"); err != nil || !bytes.Equal(b, pattern(5000, 3)) {
		t.Errorf("deep.bin from the backup: %v", err)
	}
}

// A volume whose first FAT is wiped reads through the second.
func TestSecondFAT(t *testing.T) {
	for _, typ := range []string{"12", "16", "32"} {
		img, _ := mkfs(t, typ, map[string]int{"12": 2, "16": 16, "32": 40}[typ])
		data, _ := os.ReadFile(img)
		f, _ := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{})
		clear(data[f.fatOff : f.fatOff+int64(len(f.fat))])
		f, err := Open(bytes.NewReader(data), int64(len(data)), guestfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Warnings()) != 1 || !strings.Contains(f.Warnings()[0], "FAT 2") {
			t.Errorf("FAT%s: warnings %q", typ, f.Warnings())
		}
		if b, err := fs.ReadFile(f, "state.tgz"); err != nil || !bytes.Equal(b, pattern(300000, 2)) {
			t.Errorf("FAT%s: state.tgz through the second FAT: %v", typ, err)
		}
	}
}

func TestCorruption(t *testing.T) {
	img := goImage(t)
	f, _ := Open(bytes.NewReader(img), int64(len(img)), guestfs.Options{})
	fatOff := f.fatOff

	// The FAT entry of state.tgz's first cluster points back to itself.
	loop := bytes.Clone(img)
	ent := f.rootOff + int64(bytes.Index(img[f.rootOff:f.rootOff+512], []byte("STATE   TGZ")))
	first := binary.LittleEndian.Uint16(loop[ent+26:])
	binary.LittleEndian.PutUint16(loop[fatOff+2*int64(first):], first)
	lf, err := Open(bytes.NewReader(loop), int64(len(loop)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.ReadFile(lf, "state.tgz")
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("looping chain: %v, want ErrCorrupt", err)
	}

	// A chain running off the volume.
	out := bytes.Clone(img)
	binary.LittleEndian.PutUint16(out[fatOff+2*int64(first):], 0xFFF0)
	of, _ := Open(bytes.NewReader(out), int64(len(out)), guestfs.Options{})
	var fe *ondisk.FormatError
	if _, err := fs.ReadFile(of, "state.tgz"); !errors.As(err, &fe) || fe.Struct != "FAT cluster chain" {
		t.Errorf("out-of-range cluster: %v", err)
	}

	// Garbage boot sector.
	bad := bytes.Clone(img)
	bad[13] = 3
	if _, err := Open(bytes.NewReader(bad), int64(len(bad)), guestfs.Options{}); !errors.Is(err, ErrNotFAT) {
		t.Errorf("bad sectors per cluster: %v", err)
	}
	if _, err := Open(bytes.NewReader(img[:100]), 100, guestfs.Options{}); !errors.Is(err, ErrNotFAT) {
		t.Errorf("short: %v", err)
	}
	// Volume cut short: reading past the end reports the cluster's offset.
	cut := img[:f.dataOff+1000]
	cf, err := Open(bytes.NewReader(cut), int64(len(cut)), guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(cf, "state.tgz"); !errors.As(err, &fe) || err == io.EOF {
		t.Errorf("truncated volume: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	img := goImage(f)
	meta := int(binary.LittleEndian.Uint16(img[14:]))*512 + 2*int(binary.LittleEndian.Uint16(img[22:]))*512 + 512*32
	f.Add(img[:512], false)
	f.Add(img[:meta], true)
	f.Fuzz(func(t *testing.T, head []byte, deleted bool) {
		if len(head) > meta {
			head = head[:meta]
		}
		v, err := Open(&overlay{head: head, base: img}, int64(len(img)), guestfs.Options{Deleted: deleted})
		if err != nil {
			return
		}
		// Whatever the damage, a file reads its stated size or fails, and
		// its directory entry and Stat agree on that size.
		budget := int64(8 << 20) // bytes read in one run, to keep runs short
		fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			r, err := v.Open(p)
			if err != nil {
				return nil
			}
			defer r.Close()
			fi, err := r.Stat()
			if err != nil {
				t.Fatalf("%s: Stat of an open file: %v", p, err)
			}
			if di, err := d.Info(); err == nil && di.Size() != fi.Size() {
				t.Fatalf("%s: directory entry says %d bytes, Stat %d", p, di.Size(), fi.Size())
			}
			if fi.Size() > 1<<20 || budget < 0 {
				return nil
			}
			budget -= fi.Size()
			guestfstest.CheckFile(t, v, p, 1<<20, func(error) bool { return true })
			return nil
		})
	})
}

// overlay reads head over the start of base without copying base.
type overlay struct {
	head, base []byte
}

func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(o.base)) {
		return 0, io.EOF
	}
	n := copy(p, o.base[off:])
	if off < int64(len(o.head)) {
		copy(p, o.head[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

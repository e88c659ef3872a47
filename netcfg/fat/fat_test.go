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
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/netcfg/internal/fixture"
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func goImage(t testing.TB) []byte {
	img, err := fixture.FAT16(4<<20, "BOOTBANK1", map[string][]byte{
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
	f, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != 16 || !f.VMware || f.Label != "BOOTBANK1" {
		t.Errorf("type %d vmware %v label %q", f.Type, f.VMware, f.Label)
	}
	got, err := fs.ReadFile(f, "STATE.TGZ") // names match case-insensitively
	if err != nil || !bytes.Equal(got, pattern(70000, 1)) {
		t.Fatalf("state.tgz: %v", err)
	}
	if err := fstest.TestFS(f, "boot.cfg", "state.tgz", "empty.txt"); err != nil {
		t.Fatal(err)
	}
}

// mkfs builds a volume with mkfs.vfat and fills it with mtools.
func mkfs(t *testing.T, fatType string, sizeMB int) (string, map[string][]byte) {
	for _, tool := range []string{"mkfs.vfat", "mcopy", "mmd"} {
		testenv.Tool(t, tool)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "fat.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(int64(sizeMB) << 20)
	f.Close()
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("mkfs.vfat", "-F", fatType, "-n", "BOOTBANK2", img)
	files := map[string][]byte{
		"boot.cfg":                         []byte("bootstate=0\ntitle=Loading VMware ESXi\nupdated=2\n"),
		"state.tgz":                        pattern(300000, 2),
		"A Long File Name With Spaces.txt": []byte("long name"),
		"sub/dir/deep.bin":                 pattern(5000, 3),
	}
	run("mmd", "-i", img, "::sub", "::sub/dir")
	for name, data := range files {
		src := filepath.Join(dir, "src")
		os.WriteFile(src, data, 0o644)
		run("mcopy", "-i", img, src, "::"+name)
	}
	return img, files
}

func TestMkfsVolumes(t *testing.T) {
	for _, c := range []struct {
		typ  string
		mb   int
		want int
	}{{"12", 2, 12}, {"16", 16, 16}, {"32", 40, 32}} {
		t.Run("FAT"+c.typ, func(t *testing.T) {
			img, files := mkfs(t, c.typ, c.mb)
			data, _ := os.ReadFile(img)
			f, err := Open(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if f.Type != c.want || f.Label != "BOOTBANK2" {
				t.Errorf("type %d label %q", f.Type, f.Label)
			}
			var names []string
			for name, want := range files {
				got, err := fs.ReadFile(f, name)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: %v (%d bytes, want %d)", name, err, len(got), len(want))
				}
				names = append(names, name)
			}
			if err := fstest.TestFS(f, names...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCorruption(t *testing.T) {
	img := goImage(t)
	f, _ := Open(bytes.NewReader(img), int64(len(img)))
	fatOff := f.fatOff

	// The FAT entry of state.tgz's first cluster points back to itself.
	loop := bytes.Clone(img)
	ent := f.rootOff + int64(bytes.Index(img[f.rootOff:f.rootOff+512], []byte("STATE   TGZ")))
	first := binary.LittleEndian.Uint16(loop[ent+26:])
	binary.LittleEndian.PutUint16(loop[fatOff+2*int64(first):], first)
	lf, err := Open(bytes.NewReader(loop), int64(len(loop)))
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
	of, _ := Open(bytes.NewReader(out), int64(len(out)))
	var fe *FormatError
	if _, err := fs.ReadFile(of, "state.tgz"); !errors.As(err, &fe) || fe.Struct != "cluster chain" {
		t.Errorf("out-of-range cluster: %v", err)
	}

	// Garbage boot sector.
	bad := bytes.Clone(img)
	bad[13] = 3
	if _, err := Open(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrNotFAT) {
		t.Errorf("bad sectors per cluster: %v", err)
	}
	if _, err := Open(bytes.NewReader(img[:100]), 100); !errors.Is(err, ErrNotFAT) {
		t.Errorf("short: %v", err)
	}
	// Volume cut short: reading past the end reports the cluster's offset.
	cut := img[:f.dataOff+1000]
	cf, err := Open(bytes.NewReader(cut), int64(len(cut)))
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
	f.Add(img[:512])
	f.Add(img[:meta])
	f.Fuzz(func(t *testing.T, head []byte) {
		if len(head) > meta {
			head = head[:meta]
		}
		v, err := Open(&overlay{head: head, base: img}, int64(len(img)))
		if err != nil {
			return
		}
		// Whatever the damage, a file reads its stated size or fails, and
		// its directory entry and Stat agree on that size.
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
			if fi.Size() > 1<<20 {
				return nil
			}
			if n, err := io.Copy(io.Discard, r); err == nil && n != fi.Size() {
				t.Fatalf("%s: read %d bytes without error, size %d", p, n, fi.Size())
			}
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

package ext

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// mounted makes an image with mkfs.TYPE args, mounts it through a loop
// device (root), lets fill write into it through the kernel, and unmounts.
func mounted(t *testing.T, typ string, size int64, args []string, fill func(root string)) string {
	t.Helper()
	lm := mountLoop(t, typ, size, args, "")
	fill(lm.mnt)
	testenv.WriteBack(t, lm.mnt)
	lm.unmount()
	return lm.img
}

// kernelFill writes what only the kernel makes: an htree directory of
// thousands of entries, a sparse file past 4 GiB (triple indirect blocks
// with 1 KiB blocks, huge_file), preallocated (unwritten) extents, times
// with nanoseconds and past 2038, special files, and a deleted file.
// It returns the sha256 of every regular file under 1 MiB as the kernel
// reads it, and the data it wrote in the big sparse file.
type kernelWant struct {
	sums   map[string]string
	big    map[int64][]byte
	names  []string // of the htree directory
	mtime  time.Time
	future time.Time
}

const bigSize = 5<<30 + 100

func kernelFill(t *testing.T, root string) *kernelWant {
	w := &kernelWant{sums: map[string]string{}, big: map[int64][]byte{}}
	rnd := rand.New(rand.NewSource(4))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(root, "htree"), 0o755))
	for i := 0; i < 3000; i++ {
		name := "file-number-" + strconv.Itoa(i) + "-with-a-name-to-fill-blocks"
		must(os.WriteFile(filepath.Join(root, "htree", name), []byte(strconv.Itoa(i)), 0o644))
		w.names = append(w.names, name)
	}
	f, err := os.Create(filepath.Join(root, "big.sparse"))
	must(err)
	for _, off := range []int64{0, 2<<30 + 12345, 4<<30 + 512<<20, bigSize - 4096} {
		b := make([]byte, 64<<10)
		rnd.Read(b)
		if off+int64(len(b)) > bigSize {
			b = b[:bigSize-off]
		}
		_, err := f.WriteAt(b, off)
		must(err)
		w.big[off] = b
	}
	must(f.Truncate(bigSize))
	must(f.Close())
	medium := make([]byte, 700_000)
	rnd.Read(medium)
	must(os.WriteFile(filepath.Join(root, "medium"), medium, 0o600))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	must(syscall.Mknod(filepath.Join(root, "null"), syscall.S_IFCHR|0o666, 1<<8|3))
	w.mtime = time.Unix(1700000000, 123456789)
	must(os.Chtimes(filepath.Join(root, "medium"), w.mtime, w.mtime))
	must(os.Chown(filepath.Join(root, "medium"), 70000, 1234)) // a UID past 16 bits
	w.future = time.Unix(4200000000, 987654321)                // 2103: epoch bits
	must(os.Chtimes(filepath.Join(root, "htree", w.names[0]), w.future, w.future))
	// Unwritten extents where fallocate has them (ext4).
	if pf, err := os.Create(filepath.Join(root, "prealloc")); err == nil {
		if syscall.Fallocate(int(pf.Fd()), 0, 0, 1<<20) == nil {
			pf.WriteAt([]byte("head"), 0)
		}
		pf.Close()
	}
	must(os.WriteFile(filepath.Join(root, "gone.txt"), []byte("deleted by the kernel\n"), 0o644))
	must(os.Remove(filepath.Join(root, "gone.txt")))
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || p == filepath.Join(root, "big.sparse") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		w.sums[rel] = hex.EncodeToString(s[:])
		return nil
	})
	must(err)
	return w
}

func TestKernelMade(t *testing.T) {
	for _, v := range []struct {
		name, typ string
		args      []string
	}{
		{"ext4-4k", "ext4", []string{"-b", "4096"}},
		{"ext3-1k", "ext3", []string{"-b", "1024"}},
		{"ext2-4k", "ext2", []string{"-b", "4096"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			var w *kernelWant
			img := mounted(t, v.typ, 96<<20, v.args, func(root string) { w = kernelFill(t, root) })
			fsys := openImage(t, img, guestfs.Options{})
			for p, want := range w.sums {
				f, err := fsys.Open(p)
				if err != nil {
					t.Errorf("%s: %v", p, err)
					continue
				}
				got, err := sum(f)
				f.Close()
				if err != nil || got != want {
					t.Errorf("%s: sha256 %s, %v; the kernel reads %s", p, got, err, want)
				}
			}
			ents, err := fsys.ReadDir("htree")
			if err != nil || len(ents) != len(w.names) {
				t.Fatalf("htree: %d entries, %v; want %d", len(ents), err, len(w.names))
			}
			dir, _ := fsys.Stat("htree")
			in, err := fsys.readInode(uint32(dir.Sys().(*guestfs.Info).ID))
			if err != nil || in.flags&flagIndex == 0 {
				t.Errorf("htree: flags %#x, %v; want an indexed directory", in.flags, err)
			}
			// The big sparse file: size, data where written, holes between.
			f, err := fsys.Open("big.sparse")
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			if fi.Size() != bigSize {
				t.Errorf("big.sparse: size %d, want %d", fi.Size(), bigSize)
			}
			ra := f.(io.ReaderAt)
			for off, b := range w.big {
				pad := min(off, 4) // a byte of the hole before, when there is one
				got := make([]byte, len(b)+8)
				n, err := ra.ReadAt(got, off-pad)
				if int64(n) < int64(len(b))+pad || (err != nil && err != io.EOF) {
					t.Errorf("big.sparse at %d: %d bytes, %v", off, n, err)
					continue
				}
				if !bytes.Equal(got[pad:pad+int64(len(b))], b) || (pad > 0 && !bytes.Equal(got[:pad], make([]byte, pad))) {
					t.Errorf("big.sparse at %d: wrong data", off)
				}
			}
			m, _ := f.(allocmap.Mapper).AllocationMap()
			if m.Total() > 4*(64<<10+8192) || m.Total() < 3*(64<<10) {
				t.Errorf("big.sparse maps %d bytes: %v", m.Total(), m)
			}
			st, _ := fsys.Stat("medium")
			if !st.ModTime().Equal(w.mtime) && v.typ != "ext2" {
				t.Errorf("medium: mtime %v, want %v", st.ModTime(), w.mtime)
			}
			if st.Mode() != 0o600 {
				t.Errorf("medium: mode %v", st.Mode())
			}
			if o := st.Sys().(*guestfs.Info).Owner; o == nil || *o != (guestfs.Owner{UID: 70000, GID: 1234}) {
				t.Errorf("medium: owner %+v, want 70000:1234", o)
			}
			if v.typ != "ext2" && v.name != "ext3-1k" { // 128-byte inodes keep no extra times
				st, _ = fsys.Stat("htree/" + w.names[0])
				if !st.ModTime().Equal(w.future) {
					t.Errorf("mtime past 2038: %v, want %v", st.ModTime(), w.future)
				}
			}
			if st, err := fsys.Stat("fifo"); err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
				t.Errorf("fifo: %v, %v", st, err)
			}
			if st, err := fsys.Stat("null"); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
				t.Errorf("null: %v, %v", st, err)
			}
			// With deleted files: the tree still walks, and gone.txt, whose
			// map the kernel zeroed, is at most listed with what is lost
			// (kernels that wipe the deleted entry leave no name, and
			// size 0 keeps it out of the orphans).
			del := openImage(t, img, guestfs.Options{Deleted: true})
			seen := false
			if err := fs.WalkDir(del, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Name() == "gone.txt" {
					seen = true
					fi, _ := d.Info()
					info := fi.Sys().(*guestfs.Info)
					t.Logf("kernel-deleted %s: size %d, %+v", p, fi.Size(), info)
					if info.State != guestfs.Deleted || info.Lost != fi.Size() {
						t.Errorf("%s: %+v, want deleted and all of it lost", p, info)
					}
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
			t.Logf("kernel-deleted gone.txt listed: %v", seen)
		})
	}
}

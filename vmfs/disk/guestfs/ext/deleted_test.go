package ext

import (
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// debugfsW runs debugfs requests that write the image (never a source).
func debugfsW(t *testing.T, img string, reqs ...string) {
	t.Helper()
	tool := testenv.Tool(t, "debugfs")
	cmd := exec.Command(tool, "-w", "-f", "-", img)
	cmd.Stdin = strings.NewReader(strings.Join(reqs, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "rror") {
		t.Fatalf("debugfs -w %q: %v\n%s", reqs, err, out)
	}
}

func inodeOf(t *testing.T, fsys *FS, name string) uint64 {
	t.Helper()
	fi, err := fsys.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*guestfs.Info).ID
}

func TestDeleted(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	want := osTree(t, src, nil)
	for _, v := range []struct{ typ, blockSize string }{{"ext2", "1024"}, {"ext4", "4096"}} {
		t.Run(v.typ, func(t *testing.T) {
			img := mkfs(t, v.typ, 64<<20, src, "-b", v.blockSize)
			before := openImage(t, img, guestfs.Options{})
			orphan := inodeOf(t, before, "a/b/c/d/deep.txt")
			reused := inodeOf(t, before, "many/entry-with-a-longish-name--0")
			in, err := before.readInode(uint32(reused))
			if err != nil {
				t.Fatal(err)
			}
			lay, err := before.layoutOf(in)
			if err != nil || len(lay.runs) != 1 {
				t.Fatalf("layout of %d: %v, %v", reused, lay, err)
			}
			// debugfs rm frees the inode and its blocks but keeps the map
			// and the size; the entry survives in the gap of the one before.
			// deep.txt's entry is then overwritten by a longer name, which
			// leaves its inode an orphan; the block of the many/ entry is
			// marked in use again.
			debugfsW(t, img,
				"rm /medium.bin",
				"rm /a/b/c/d/deep.txt",
				"ln /hello.txt /a/b/c/d/a-name-long-enough-to-fill-the-gap",
				"rm /many/entry-with-a-longish-name--0",
				"setb "+strconv.FormatInt(lay.runs[0].pblk, 10),
			)
			live := openImage(t, img, guestfs.Options{})
			if _, err := live.Stat("medium.bin"); err == nil {
				t.Error("medium.bin is listed without Options.Deleted")
			}
			fsys := openImage(t, img, guestfs.Options{Deleted: true})
			got := ourTree(t, fsys)
			if g := got["medium.bin"]; g != want["medium.bin"] {
				t.Errorf("deleted medium.bin: %+v, want %+v", g, want["medium.bin"])
			}
			fi, err := fsys.Stat("medium.bin")
			if err != nil {
				t.Fatal(err)
			}
			if info := fi.Sys().(*guestfs.Info); info.State != guestfs.Deleted || info.Lost != 0 || info.Links != 0 {
				t.Errorf("deleted medium.bin: %+v, want deleted, nothing lost", info)
			}
			op := guestfs.OrphanDir + "/" + strconv.FormatUint(orphan, 10)
			if g := got[op]; g.sum != want["a/b/c/d/deep.txt"].sum {
				t.Errorf("orphan %s: %+v, want deep.txt's %+v", op, g, want["a/b/c/d/deep.txt"])
			}
			rn := "many/entry-with-a-longish-name--0"
			fi, err = fsys.Stat(rn)
			if err != nil {
				t.Fatalf("deleted %s: %v", rn, err)
			}
			if info := fi.Sys().(*guestfs.Info); info.ID != reused || info.State != guestfs.Deleted || info.Lost != fi.Size() {
				t.Errorf("deleted %s: %+v, want inode %d deleted, its %d bytes lost", rn, info, reused, fi.Size())
			}
			// Every live file reads as before.
			for p, w := range want {
				if p == "medium.bin" || p == "a/b/c/d/deep.txt" || p == rn {
					continue
				}
				if got[p] != w {
					t.Errorf("%s: %+v, want %+v", p, got[p], w)
				}
			}
			for p := range got {
				if strings.Contains(p, "~deleted-") {
					t.Errorf("%s: no live name was taken", p)
				}
			}
			if err := fs.WalkDir(fsys, guestfs.OrphanDir, func(p string, d fs.DirEntry, err error) error { return err }); err != nil {
				t.Error(err)
			}
			_ = os.Remove(img)
		})
	}
}

// TestDeletedDirectory: a directory removed with what it held is listed
// at its old path, deleted, with its deleted file below it.
func TestDeletedDirectory(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	want := osTree(t, src, nil)
	img := mkfs(t, "ext2", 64<<20, src, "-b", "1024")
	debugfsW(t, img, "rm /a/b/c/d/deep.txt", "rmdir /a/b/c/d")
	fsys := openImage(t, img, guestfs.Options{Deleted: true})
	fi, err := fsys.Stat("a/b/c/d")
	if err != nil {
		t.Fatal(err)
	}
	if info := fi.Sys().(*guestfs.Info); !fi.IsDir() || info.State != guestfs.Deleted {
		t.Errorf("a/b/c/d: %v %+v, want a deleted directory", fi.Mode(), info)
	}
	got := ourTree(t, fsys)
	if g := got["a/b/c/d/deep.txt"]; g != want["a/b/c/d/deep.txt"] {
		t.Errorf("a/b/c/d/deep.txt: %+v, want %+v", g, want["a/b/c/d/deep.txt"])
	}
	if _, ok := got[guestfs.OrphanDir]; ok {
		t.Errorf("orphans listed where every deleted inode has its name: %v", got)
	}
}

package ext

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// zero overwrites n bytes of img at off.
func zero(t *testing.T, img string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, n), off); err != nil {
		t.Fatal(err)
	}
}

// TestBackupSuperblock destroys the head of the file system (the primary
// superblock and group descriptors, as ransomware encrypting the first
// MiB does) and opens from the backup in group 1.
func TestBackupSuperblock(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	want := osTree(t, src, nil)
	for _, v := range []struct {
		name, typ string
		size      int64
		args      []string
	}{
		{"ext4-4k", "ext4", 160 << 20, nil},
		{"ext2-1k", "ext2", 64 << 20, []string{"-b", "1024"}},
		{"ext4-1k-metabg", "ext4", 64 << 20, []string{"-b", "1024", "-O", "meta_bg,^resize_inode"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			img := mkfs(t, v.typ, v.size, src, v.args...)
			head := int64(8 << 10) // superblock and descriptors, not the inode tables
			zero(t, img, 0, head)
			fsys := openImage(t, img, guestfs.Options{})
			compareTrees(t, "from the backup", ourTree(t, fsys), want)
			if w := fsys.Warnings(); len(w) != 1 || !strings.Contains(w[0], "backup in block group 1") {
				t.Errorf("warnings %q, want one naming the backup", w)
			}
		})
	}
}

// TestCorrupt damages structures at known offsets and checks the error
// names them.
func TestCorrupt(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	img := mkfs(t, "ext4", 64<<20, src, "-b", "4096") // one group: no backup
	clean, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	fsys := openImage(t, img, guestfs.Options{})
	in, err := fsys.readInode(uint32(inodeOf(t, fsys, "medium.bin")))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		off     int64
		data    []byte
		open    bool // the error comes from Open, else from reading medium.bin
		class   error
		struct_ string
	}{
		{"block size", 1024 + 0x18, []byte{9}, true, ErrCorrupt, "ext superblock"},
		{"inodes per group", 1024 + 0x28, []byte{0, 0, 0, 0}, true, ErrCorrupt, "ext superblock"},
		{"extent magic", in.off + 0x28, []byte{0, 0}, false, ErrCorrupt, "ext4 inode"},
		{"extent depth", in.off + 0x28 + 6, []byte{9, 0}, false, ErrCorrupt, "ext4 inode"},
		{"extent past the end", in.off + 0x28 + 12 + 8, []byte{0xFF, 0xFF, 0xFF, 0x0F}, false, ErrCorrupt, "ext4 inode"},
		{"extent entries", in.off + 0x28 + 2, []byte{200, 0}, false, ErrCorrupt, "ext4 inode"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(clean)
			copy(b[c.off:], c.data)
			r := bytes.NewReader(b)
			fsys, err := Open(r, int64(len(b)), guestfs.Options{})
			if !c.open {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_, err = fsys.Open("medium.bin")
				if err == nil {
					t.Fatal("medium.bin opens")
				}
			}
			var fe *ondisk.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, c.class) || !strings.HasPrefix(fe.Struct, c.struct_) {
				t.Fatalf("error %v, want a %v FormatError naming %q", err, c.class, c.struct_)
			}
		})
	}
}

// TestJournalEmpty: a file system left with needs_recovery whose journal
// holds nothing to replay opens as it stands, saying so; one whose
// journal lies on an external device says it cannot be replayed.
func TestJournalEmpty(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	img := mkfs(t, "ext4", 64<<20, src, "-b", "4096")
	debugfsW(t, img, "feature needs_recovery")
	fsys := openImage(t, img, guestfs.Options{})
	if w := fsys.Warnings(); len(w) != 1 || w[0] != "journal replayed in memory: 0 transactions, 0 blocks (it held no committed transaction)" {
		t.Errorf("warnings %q, want the journal's", w)
	}
	if _, err := fsys.Stat("hello.txt"); err != nil {
		t.Error(err)
	}
	debugfsW(t, img, "ssv journal_inum 0")
	fsys = openImage(t, img, guestfs.Options{})
	if w := fsys.Warnings(); len(w) != 1 || !strings.Contains(w[0], "not replayed") || !strings.HasSuffix(w[0], "external journal device") {
		t.Errorf("warnings %q, want the external journal's", w)
	}
	if _, err := fsys.Stat("hello.txt"); err != nil {
		t.Error(err)
	}
}

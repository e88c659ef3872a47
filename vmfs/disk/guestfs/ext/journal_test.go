package ext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// loopMount is a file system mounted through a loop device. Its image
// copied while mounted is a crash image, as a datastore that dies under a
// running VM leaves its guests.
type loopMount struct {
	t       *testing.T
	img     string
	mnt     string
	umount  string // the tool
	mounted bool
	rnd     *rand.Rand
}

// mountLoop makes an image with mkfs.TYPE args and mounts it (root) with
// the mount options opts added to loop; the test's end unmounts it.
func mountLoop(t *testing.T, typ string, size int64, args []string, opts string) *loopMount {
	t.Helper()
	mkfs := testenv.Tool(t, "mkfs."+typ)
	mount, umount := testenv.Tool(t, "mount"), testenv.Tool(t, "umount")
	if os.Geteuid() != 0 {
		testenv.Lacks(t, "not root: a loop mount needs root")
	}
	img := filepath.Join(t.TempDir(), typ+".img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, append(append([]string{"-q", "-F"}, args...), img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.%s: %v\n%s", typ, err, out)
	}
	mnt := t.TempDir()
	if opts != "" {
		opts = "," + opts
	}
	if out, err := exec.Command(mount, "-o", "loop"+opts, "-t", typ, img, mnt).CombinedOutput(); err != nil {
		testenv.Lacks(t, "loop mount not permitted here: %v %s", err, out)
	}
	c := &loopMount{t: t, img: img, mnt: mnt, umount: umount, mounted: true, rnd: rand.New(rand.NewSource(int64(len(args))))}
	t.Cleanup(func() {
		if c.mounted {
			exec.Command(umount, mnt).Run()
		}
	})
	return c
}

// unmount unmounts the file system.
func (c *loopMount) unmount() {
	c.t.Helper()
	if out, err := exec.Command(c.umount, c.mnt).CombinedOutput(); err != nil {
		c.t.Fatalf("umount: %v\n%s", err, out)
	}
	c.mounted = false
}

// round changes the file system (new files and directories, a file
// rewritten, a directory of files deleted: its blocks revoked) and
// commits the journal with fsync, which, unlike sync, writes nothing back
// in place.
func (c *loopMount) round(n int) {
	t := c.t
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(c.mnt, "round-"+strconv.Itoa(n))
	must(os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755))
	for i := 0; i < 40; i++ {
		b := make([]byte, c.rnd.Intn(9000))
		c.rnd.Read(b)
		must(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), b, 0o644))
	}
	must(os.WriteFile(filepath.Join(dir, "sub", "deeper", "note.txt"), []byte("round "+strconv.Itoa(n)+"\n"), 0o600))
	// A block that starts with the journal's magic: escaped in the log
	// with data=journal.
	magic := append([]byte{0xC0, 0x3B, 0x39, 0x98}, bytes.Repeat([]byte("escaped "), 600)...)
	must(os.WriteFile(filepath.Join(dir, "magic.bin"), magic, 0o644))
	must(os.Symlink(strings.Repeat("../", 30)+"target-"+strconv.Itoa(n), filepath.Join(dir, "longlink")))
	must(os.WriteFile(filepath.Join(c.mnt, "rewritten"), bytes.Repeat([]byte{byte(n)}, 5000+n), 0o644))
	if n > 0 {
		must(os.RemoveAll(filepath.Join(c.mnt, "round-"+strconv.Itoa(n-1), "sub")))
	}
	f, err := os.OpenFile(filepath.Join(c.mnt, "rewritten"), os.O_RDWR, 0)
	must(err)
	must(f.Sync())
	must(f.Close())
}

// crash copies the image as it stands while mounted.
func (c *loopMount) crash(name string) string {
	c.t.Helper()
	return copyImage(c.t, c.img, name, nil)
}

// copyImage copies img to a file name in a temporary folder, edit changing
// its bytes on the way when given.
func copyImage(t *testing.T, img, name string, edit func([]byte)) string {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(b)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fsckCopy is a copy of img that e2fsck -fy has replayed and repaired.
func fsckCopy(t *testing.T, img string) string {
	t.Helper()
	e2fsck := testenv.Tool(t, "e2fsck")
	p := copyImage(t, img, "fsck.img", nil)
	out, err := exec.Command(e2fsck, "-fy", p).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() <= 2) {
		t.Fatalf("e2fsck -fy: %v\n%s", err, out)
	}
	t.Logf("e2fsck -fy: %s", bytes.TrimSpace(out))
	return p
}

// asItStands is a copy of img with needs_recovery cleared: what reading
// without the journal gives.
func asItStands(t *testing.T, img string) string {
	t.Helper()
	return copyImage(t, img, "stands.img", func(b []byte) {
		at := superOff + 0x60
		binary.LittleEndian.PutUint32(b[at:], binary.LittleEndian.Uint32(b[at:])&^incompatRecover)
	})
}

// TestJournalReplayKernel: on images the kernel left mounted, with
// committed transactions not yet written in place, the tree read through
// the replayed journal is the one e2fsck's replay gives (every path,
// every sha256 as debugfs dumps them), and not the one on disk.
func TestJournalReplayKernel(t *testing.T) {
	for _, v := range []struct {
		name, typ  string
		args       []string
		opts       string
		rounds     int
		wantWrap   bool
		wantRevoke bool // deleted directories' blocks revoked
		wantEscape bool // data=journal logs magic.bin's first block escaped
	}{
		{name: "ext4-csum-v3", typ: "ext4", args: []string{"-b", "4096"}, opts: "commit=600", rounds: 3, wantRevoke: true},
		{name: "ext4-32bit-nocsum", typ: "ext4", args: []string{"-b", "4096", "-O", "^metadata_csum,^64bit"}, opts: "commit=600", rounds: 3, wantRevoke: true},
		{name: "ext3-1k", typ: "ext3", args: []string{"-b", "1024"}, opts: "commit=600", rounds: 3, wantRevoke: true},
		{name: "ext4-data-journal", typ: "ext4", args: []string{"-b", "4096"}, opts: "commit=600,data=journal", rounds: 3, wantEscape: true},
		{name: "ext4-wrapped", typ: "ext4", args: []string{"-b", "1024", "-J", "size=1"}, opts: "commit=600,data=journal", rounds: 200, wantWrap: true, wantEscape: true},
	} {
		t.Run(v.name, func(t *testing.T) {
			lm := mountLoop(t, v.typ, 64<<20, v.args, v.opts)
			var img string
			for n := 0; n < v.rounds; n++ {
				lm.round(n)
				if !v.wantWrap || n < 3 {
					continue
				}
				img = lm.crash("crash.img")
				if j := replayedJournal(t, img); j.wrapped && j.transactions >= 2 {
					break
				}
				img = ""
			}
			if img == "" {
				img = lm.crash("crash.img")
			}
			j := checkReplay(t, img)
			if v.wantWrap && !j.wrapped {
				t.Errorf("the replayed log does not wrap around in %d rounds", v.rounds)
			}
			escaped := 0
			for _, c := range j.blocks {
				if c.escaped {
					escaped++
				}
			}
			t.Logf("wrapped %v, %d copies revoked, %d escaped", j.wrapped, j.revoked, escaped)
			if v.wantRevoke && j.revoked == 0 {
				t.Error("no copy revoked")
			}
			if v.wantEscape && escaped == 0 {
				t.Error("no escaped block replayed")
			}
		})
	}
}

// TestJournalSeedImages: the kernel's crash images in testdata/journal
// (gen.sh) read as e2fsck's replay gives them, without root.
func TestJournalSeedImages(t *testing.T) {
	for name, b := range seeds(t, "testdata/journal/*.img.gz") {
		t.Run(name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "crash.img")
			if err := os.WriteFile(img, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if j := checkReplay(t, img); j.revoked == 0 {
				t.Error("no copy revoked")
			}
		})
	}
}

// checkReplay checks that crash image img needs recovery, that the tree
// read through its replayed journal is the one e2fsck's replay gives
// (every path, every sha256 as debugfs dumps them) and not the one on
// disk, and that Warnings says what was replayed; it returns the journal.
func checkReplay(t *testing.T, img string) *journal {
	t.Helper()
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(raw[superOff+0x60:])&incompatRecover == 0 {
		t.Fatal("the crash image does not need recovery")
	}
	j := replayedJournal(t, img)
	fsys := openImage(t, img, guestfs.Options{})
	want := fmt.Sprintf("journal replayed in memory: %d transactions, %d blocks", j.transactions, len(j.blocks))
	if w := fsys.Warnings(); len(w) != 1 || w[0] != want || j.transactions == 0 {
		t.Errorf("warnings %q, want only %q with transactions", w, want)
	}
	got := ourTree(t, fsys)
	compareTrees(t, "e2fsck replay", got, debugfsTree(t, fsckCopy(t, img), got))
	stands := ourTree(t, openImage(t, asItStands(t, img), guestfs.Options{}))
	same := len(stands) == len(got)
	for p, e := range got {
		same = same && stands[p] == e
	}
	if same {
		t.Error("the tree on disk, without the journal, is the replayed one: the test made no crash image")
	}
	return j
}

// rawJournal is the journal file of img, read as it stands, and the
// file system's size in blocks.
func rawJournal(t *testing.T, img string) (*journalLog, int64) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	sb, at, err := findSuper(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	fsys := &FS{r: f, meta: f, size: fi.Size(), sb: sb}
	if fsys.groups, err = readGroups(f, sb, at, fi.Size()); err != nil {
		t.Fatal(err)
	}
	l, err := fsys.journalFile()
	if err != nil {
		t.Fatal(err)
	}
	return l, sb.blocks
}

// replayedJournal replays the journal of img.
func replayedJournal(t *testing.T, img string) *journal {
	t.Helper()
	j, err := replayLog(rawJournal(t, img))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestJournalDamaged: a kernel's crash image whose journal is damaged
// reads as e2fsck reads it: a journal superblock failing its checksum is
// not replayed (the tree is the one on disk, and Warnings says why); a
// last commit block failing its checksum ends the replay before that
// transaction, as e2fsck's replay ends.
func TestJournalDamaged(t *testing.T) {
	var src []byte
	for name, b := range seeds(t, "testdata/journal/ext4-1k-csum.img.gz") {
		t.Log(name)
		src = b
	}
	img := filepath.Join(t.TempDir(), "crash.img")
	if err := os.WriteFile(img, src, 0o644); err != nil {
		t.Fatal(err)
	}
	whole := replayedJournal(t, img)
	l, _ := rawJournal(t, img)
	sbOff, err := l.blockOff(0)
	if err != nil {
		t.Fatal(err)
	}
	// The last replayed transaction's commit block.
	be := binary.BigEndian
	seq := be.Uint32(src[sbOff+0x18:]) + uint32(whole.transactions) - 1
	commitOff := int64(-1)
	b := make([]byte, l.bs)
	for i := int64(1); i < l.nblk; i++ {
		off, err := l.read(b, i)
		if err != nil {
			t.Fatal(err)
		}
		if be.Uint32(b) == jbdMagic && be.Uint32(b[4:]) == jbdCommit && be.Uint32(b[8:]) == seq {
			commitOff = off
		}
	}
	if commitOff < 0 || whole.transactions < 2 {
		t.Fatalf("%d transactions, the last's commit at %d", whole.transactions, commitOff)
	}

	badSuper := copyImage(t, img, "bad-super.img", func(b []byte) { b[sbOff+0x200] ^= 1 })
	fsys := openImage(t, badSuper, guestfs.Options{})
	if w := fsys.Warnings(); len(w) != 1 || !strings.Contains(w[0], "not replayed") || !strings.Contains(w[0], "jbd2 superblock") {
		t.Errorf("warnings %q, want the journal superblock's", w)
	}
	compareTrees(t, "on disk", ourTree(t, fsys), ourTree(t, openImage(t, asItStands(t, img), guestfs.Options{})))

	badCommit := copyImage(t, img, "bad-commit.img", func(b []byte) { b[commitOff+0x100] ^= 1 })
	fsys = openImage(t, badCommit, guestfs.Options{})
	w := fsys.Warnings()
	if len(w) != 2 || !strings.HasPrefix(w[0], fmt.Sprintf("journal replayed in memory: %d transactions,", whole.transactions-1)) ||
		w[1] != fmt.Sprintf("journal: replay stopped before transaction %d: commit block at byte %d fails its checksum", seq, commitOff) {
		t.Errorf("warnings %q", w)
	}
	got := ourTree(t, fsys)
	compareTrees(t, "e2fsck replay", got, debugfsTree(t, fsckCopy(t, badCommit), got))
}

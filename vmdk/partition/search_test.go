package partition

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// guestFS is a file system made by its real tool and placed in a disk
// image; head is how much of its start ransomware-style damage destroys
// while leaving its backup copies (FAT32 and exFAT keep theirs a few
// sectors in).
type guestFS struct {
	fs   string
	tool string
	args []string
	at   int64
	size int64
	head int64
}

// TestSearchFindsGuestFileSystems builds a guest disk with six file
// systems made by the real tools, destroys its first megabyte (partition
// table and all), and Search must place every file system exactly; then
// it also destroys the head of each file system, and Search must still
// place each one by its backup copies.
func TestSearchFindsGuestFileSystems(t *testing.T) {
	const mib = 1 << 20
	layout := []guestFS{
		{FSFAT32, "mkfs.fat", []string{"-F", "32"}, 1 * mib, 64 * mib, 512},
		{FSNTFS, "mkntfs", []string{"-q", "-F", "-f"}, 65 * mib, 32 * mib, 64 << 10},
		{FSExt4, "mkfs.ext4", []string{"-q", "-F", "-b", "4096", "-g", "4096"}, 97 * mib, 64 * mib, 64 << 10},
		{FSExFAT, "mkfs.exfat", nil, 161 * mib, 16 * mib, 512},
		{FSBtrfs, "mkfs.btrfs", []string{"-q", "-f"}, 177 * mib, 128 * mib, 128 << 10},
		{FSXFS, "mkfs.xfs", []string{"-q", "-f"}, 305*mib + 63*512, 320 * mib, 64 << 10}, // old CHS alignment
	}
	disk := filepath.Join(t.TempDir(), "guest.img")
	out, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	end := int64(0)
	for _, g := range layout {
		img := mkfs(t, g.tool, g.args, g.size)
		in, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, g.at), in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		end = max(end, g.at+g.size)
	}
	if err := out.Truncate(end + mib); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	encrypt := func(off, n int64) {
		b := make([]byte, n)
		rng.Read(b)
		if _, err := out.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, heads bool) {
		found, err := Search(context.Background(), out, end+mib, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Logf("%s at %d, %d bytes, head intact %v: %v", f.FS, f.Start, f.Size, f.HeadIntact, f.Evidence)
		}
		for _, g := range layout {
			ok := false
			for _, f := range found {
				if f.Start == g.at && f.FS == g.fs {
					ok = f.Size <= g.size && f.Size > g.size/2 && f.HeadIntact == heads
					if !ok {
						t.Errorf("%s at %d: %+v", g.fs, g.at, f)
					}
				}
			}
			if !ok {
				t.Errorf("%s at %d not found; found %+v", g.fs, g.at, found)
			}
		}
		if len(found) != len(layout) {
			t.Errorf("found %d file systems, want %d: %+v", len(found), len(layout), found)
		}
	}
	encrypt(0, mib)
	t.Run("partition table gone", func(t *testing.T) { check(t, true) })
	for _, g := range layout {
		encrypt(g.at, g.head)
	}
	t.Run("heads gone", func(t *testing.T) { check(t, false) })
	t.Run("repair", func(t *testing.T) {
		found, err := Search(context.Background(), out, end+mib, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			img := filepath.Join(t.TempDir(), "copy.img")
			copyOut, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(copyOut, io.NewSectionReader(out, f.Start, f.Size))
			copyOut.Close()
			if err != nil {
				t.Fatal(err)
			}
			cmd := f.Repair(img)
			if _, ok := toolPath(strings.Fields(cmd)[0]); !ok {
				t.Logf("%s: %s not installed", f.FS, strings.Fields(cmd)[0])
				continue
			}
			sh := exec.Command("sh", "-c", cmd)
			sh.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
			if out, err := sh.CombinedOutput(); err != nil {
				// e2fsck exits 1 when it corrected the file system,
				// btrfs rescue super-recover 2 when it rewrote the
				// superblocks.
				fixed := map[string]int{FSExt2: 1, FSExt3: 1, FSExt4: 1, FSBtrfs: 2}
				if ee, ok := err.(*exec.ExitError); !ok || fixed[f.FS] == 0 || ee.ExitCode() != fixed[f.FS] {
					t.Errorf("%s: %s: %v\n%s", f.FS, cmd, err, out)
					continue
				}
			}
			r, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			if got := DetectFS(r, f.Size); got != f.FS {
				t.Errorf("%s: after %q the copy holds %q", f.FS, cmd, got)
			}
			r.Close()
		}
	})
}

// FuzzSearch runs Search over a disk made of the input repeated: whatever
// the boot sectors and superblocks claim, it ends, and every file system it
// reports starts inside the disk and has a size.
func FuzzSearch(f *testing.F) {
	seed := make([]byte, 8192)
	copy(seed[3:], "NTFS    ")
	seed[510], seed[511] = 0x55, 0xAA
	seed[11], seed[12] = 0, 2 // 512-byte sectors
	seed[40] = 15             // 15 sectors
	seed[48] = 2              // $MFT at cluster 2
	seed[13] = 1
	copy(seed[1024:], "FILE")
	seed[4096+1024+56], seed[4096+1024+57] = 0x53, 0xEF
	f.Add(seed)
	xfs := make([]byte, 4096)
	copy(xfs, "XFSB\x00\x00\x10\x00")
	xfs[15], xfs[87], xfs[91] = 8, 1, 4
	f.Add(xfs)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 512 || len(data) > 64<<10 {
			return
		}
		disk := bytes.Repeat(data, (256<<10)/len(data)+1)
		found, err := Search(context.Background(), bytes.NewReader(disk), int64(len(disk)), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, fs := range found {
			if fs.Start < 0 || fs.Start >= int64(len(disk)) || fs.Size <= 0 || len(fs.Evidence) == 0 {
				t.Fatalf("%+v", fs)
			}
		}
	})
}

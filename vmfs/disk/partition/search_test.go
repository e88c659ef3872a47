package partition

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
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
	t.Run("testdisk finds no more", func(t *testing.T) { compareTestDisk(t, disk, out, end+mib) })
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
			if _, ok := testenv.LookTool(t, strings.Fields(cmd)[0]); !ok {
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

// compareTestDisk runs TestDisk's partition search (the peer recovery
// engineers use) on the disk and fails when it places a file system that
// Search does not.
func compareTestDisk(t *testing.T, disk string, r io.ReaderAt, size int64) {
	tool := testenv.Tool(t, "testdisk")
	dir := t.TempDir()
	cmd := exec.Command(tool, "/log", "/cmd", disk, "partition_i386,analyze,search")
	cmd.Dir = dir // testdisk.log goes there
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testdisk: %v\n%s", err, out)
	}
	log, err := os.ReadFile(filepath.Join(dir, "testdisk.log"))
	if err != nil {
		t.Fatal(err)
	}
	theirs := testDiskResults(t, string(log))
	ours, err := Search(context.Background(), r, size, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range theirs {
		found := false
		for _, f := range ours {
			found = found || f.Start == start
		}
		if !found {
			t.Errorf("testdisk places a file system at byte %d, Search does not: %+v", start, ours)
		}
	}
	t.Logf("testdisk placed %d file systems, Search %d", len(theirs), len(ours))
}

// testDiskResults reads the start offsets of the partitions TestDisk
// wrote in its log after its search: lines such as
// " 2 P HPFS - NTFS   8  73  2    12  93 17      65536" (start and end
// as cylinder, head, sector) under the last interface_write(), with the
// geometry of its "Disk ... - CHS C H S" line.
func testDiskResults(t *testing.T, log string) []int64 {
	var heads, sectors int64
	for _, line := range strings.Split(log, "\n") {
		if i := strings.Index(line, " - CHS "); i >= 0 && strings.HasPrefix(line, "Disk ") {
			var c int64
			fmt.Sscanf(line[i+len(" - CHS "):], "%d %d %d", &c, &heads, &sectors)
		}
	}
	i := strings.LastIndex(log, "interface_write()")
	if i < 0 || heads == 0 || sectors == 0 {
		t.Fatalf("testdisk log not understood:\n%s", log)
	}
	var starts []int64
	for _, line := range strings.Split(log[i:], "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || len(f[1]) != 1 || !strings.Contains("*PLE", f[1]) {
			continue
		}
		// After the type name (which may hold spaces): start C H S,
		// end C H S, size in sectors, then maybe a label.
		var chs []int64
		for _, field := range f[2:] {
			v, err := strconv.ParseInt(field, 10, 64)
			if err != nil {
				if len(chs) >= 7 {
					break
				}
				chs = chs[:0]
				continue
			}
			chs = append(chs, v)
		}
		if len(chs) < 7 {
			continue
		}
		c, h, sec := chs[0], chs[1], chs[2]
		starts = append(starts, ((c*heads+h)*sectors+sec-1)*512)
	}
	return starts
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

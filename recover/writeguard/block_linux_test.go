package writeguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// loopDisk attaches a 140 MiB sparse image with two partitions (128 MiB
// from sector 2048, enough for btrfs, and 4 MiB after it) to a loop device and returns the image, the device and
// its partitions' devices. It skips when loop devices cannot be made.
func loopDisk(t *testing.T) (img, disk, p1, p2 string) {
	t.Helper()
	for _, tool := range []string{"losetup", "sfdisk", "partx"} {
		testenv.Tool(t, tool)
	}
	if os.Geteuid() != 0 {
		testenv.Lacks(t, "not root: loop devices need root")
	}
	img = filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(img, 140<<20)
	sf := exec.Command("sfdisk", "-q", img)
	sf.Stdin = strings.NewReader("label: dos\n2048,262144,83\n264192,8192,83\n")
	if out, err := sf.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	out, err := exec.Command("losetup", "-fP", "--show", img).CombinedOutput()
	if err != nil {
		testenv.Lacks(t, "losetup not permitted here: %v %s", err, out)
	}
	disk = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", disk).Run() })
	p1, p2 = disk+"p1", disk+"p2"
	// Without udev the partitions may need asking for.
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(p2); err == nil {
			return img, disk, p1, p2
		}
		if i == 0 {
			exec.Command("partx", "-a", disk).Run()
		}
		time.Sleep(100 * time.Millisecond)
	}
	testenv.Lacks(t, "the kernel made no partition devices for %s", disk)
	return
}

func TestPartitionAndWholeDisk(t *testing.T) {
	img, disk, p1, p2 := loopDisk(t)
	for _, c := range []struct {
		source, target string
		refused        bool
	}{
		{p1, disk, true},  // the whole disk holds the partition
		{disk, p1, true},  // the partition is part of the disk
		{p1, p1, true},    // itself
		{p1, img, true},   // the file behind the loop device
		{img, disk, true}, // the loop device over the image
		{img, p2, true},   // a partition of it
		{p1, p2, false},   // a sibling partition shares no sector
		{img, "/dev/null", false},
	} {
		g := New()
		if err := g.AddPath(c.source); err != nil {
			t.Fatal(err)
		}
		err := g.Check(c.target)
		t.Logf("source %s, target %s: %v", c.source, c.target, err)
		switch {
		case c.refused:
			wantRefused(t, err, c.target, c.source)
		case err != nil:
			t.Errorf("source %s, target %s refused: %v", c.source, c.target, err)
		}
	}
}

// A file lies on the sectors of the file system's device: writing that
// device raw destroys the file, and writing a file into a file system
// whose device is read raw changes the source. btrfs gives its files an
// anonymous device number: its device is found by the mount table.
func TestFileSystemOnASource(t *testing.T) {
	_, disk, p1, p2 := loopDisk(t)
	for _, mkfs := range [][]string{{"mkfs.ext4", "-q", "-F"}, {"mkfs.btrfs", "-q", "-f"}} {
		t.Run(mkfs[0], func(t *testing.T) {
			tool := testenv.Tool(t, mkfs[0])
			if out, err := exec.Command(tool, append(mkfs[1:], p1)...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", mkfs[0], err, out)
			}
			mnt := t.TempDir()
			if out, err := exec.Command("mount", p1, mnt).CombinedOutput(); err != nil {
				testenv.Lacks(t, "mount not permitted here: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("umount", mnt).Run() })
			src := writeFile(t, filepath.Join(mnt, "disk.img"), "data")
			g := New()
			g.AddPath(src)
			wantRefused(t, g.Check(disk), disk, src)
			wantRefused(t, g.Check(p1), p1, src)
			if err := g.Check(p2); err != nil {
				t.Errorf("the other partition: %v", err)
			}
			// A new file beside the source is fine.
			beside := writeFile(t, filepath.Join(mnt, "out.raw"), "")
			if err := g.Check(beside); err != nil {
				t.Errorf("a file beside the source: %v", err)
			}
			raw := New()
			raw.AddPath(disk)
			wantRefused(t, raw.Check(beside), beside, disk)
		})
	}
}

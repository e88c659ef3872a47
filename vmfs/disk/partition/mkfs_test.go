package partition

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// TestDetectFSMkfs checks DetectFS on file systems made by the real tools
// (Debian: e2fsprogs, dosfstools, util-linux, xfsprogs, btrfs-progs,
// ntfs-3g, exfatprogs), not only on hand-made signatures. Each case skips when its tool
// is not installed. ReFS has no Linux tool; LVM2's pvcreate needs a block
// device: both stay covered by TestDetectFSSignatures only.
func TestDetectFSMkfs(t *testing.T) {
	for _, c := range []struct {
		name string
		size int64
		tool string
		args []string
		want string
	}{
		{"swap", 16 << 20, "mkswap", nil, FSSwap},
		{"ext2", 16 << 20, "mkfs.ext2", []string{"-q", "-F"}, FSExt2},
		{"ext3", 16 << 20, "mkfs.ext3", []string{"-q", "-F"}, FSExt3},
		{"ext4", 16 << 20, "mkfs.ext4", []string{"-q", "-F"}, FSExt4},
		{"fat12", 4 << 20, "mkfs.fat", []string{"-F", "12"}, FSFAT12},
		{"fat16", 32 << 20, "mkfs.fat", []string{"-F", "16"}, FSFAT16},
		{"fat32", 64 << 20, "mkfs.fat", []string{"-F", "32"}, FSFAT32},
		{"xfs", 320 << 20, "mkfs.xfs", []string{"-q", "-f"}, FSXFS},
		{"btrfs", 128 << 20, "mkfs.btrfs", []string{"-q", "-f"}, FSBtrfs},
		{"ntfs", 16 << 20, "mkntfs", []string{"-q", "-F", "-f"}, FSNTFS},
		{"exfat", 16 << 20, "mkfs.exfat", nil, FSExFAT},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := mkfs(t, c.tool, c.args, c.size)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := DetectFS(f, c.size); got != c.want {
				t.Errorf("DetectFS = %q, want %q", got, c.want)
			}
		})
	}
}

// mkfs makes a file system of size bytes in a new image file with tool,
// or skips the test when the tool is not installed.
func mkfs(t *testing.T, tool string, args []string, size int64) string {
	t.Helper()
	path := testenv.Tool(t, tool)
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return img
}

// TestDetectFSNTFSBackup: an NTFS partition whose boot sector is zeroed is
// still NTFS by the backup in its last sector; the same volume 1 MiB into
// a disk is not a file system at the disk's start.
func TestDetectFSNTFSBackup(t *testing.T) {
	const size = 16 << 20
	img := mkfs(t, "mkntfs", []string{"-q", "-F", "-f"}, size)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	clear(b[:8192])
	if got := DetectFS(bytes.NewReader(b), size); got != FSNTFS {
		t.Errorf("zeroed boot sector: DetectFS = %q, want %q", got, FSNTFS)
	}
	disk := append(make([]byte, 1<<20), b...)
	if got := DetectFS(bytes.NewReader(disk), int64(len(disk))); got != "" {
		t.Errorf("a partition's backup at the end of a disk: DetectFS = %q, want none", got)
	}
}

package preview

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// copySparse writes the non-zero 64 KiB blocks of file src into dst at off.
func copySparse(t *testing.T, dst *os.File, src string, off int64) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf, zero := make([]byte, 64<<10), make([]byte, 64<<10)
	for pos := int64(0); ; pos += int64(len(buf)) {
		n, err := io.ReadFull(f, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := dst.WriteAt(buf[:n], off+pos); werr != nil {
				t.Fatal(werr)
			}
		}
		if err != nil {
			return
		}
	}
}

// TestGuestDiskGPT previews a VMDK whose guest disk was partitioned by
// sfdisk (GPT) and formatted by mkfs.ext4, mkfs.fat, mkswap and mkntfs: the
// summary lists each partition with its name, type and file system.
func TestGuestDiskGPT(t *testing.T) {
	sfdisk := testenv.Tool(t, "sfdisk")
	dir := t.TempDir()
	parts := []struct {
		name, fs, tool string
		args           []string
		mib            int64
		typ            string
	}{
		{"root", partition.FSExt4, "mkfs.ext4", []string{"-q", "-F"}, 16, "L"},
		{"EFI", partition.FSFAT16, "mkfs.fat", []string{"-F", "16"}, 32, "U"},
		{"swap", partition.FSSwap, "mkswap", nil, 8, "S"},
		{"data", partition.FSNTFS, "mkntfs", []string{"-q", "-F", "-f"}, 16, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"},
	}
	const diskMiB = 80
	flat := filepath.Join(dir, "vm", "guest-flat.vmdk")
	os.MkdirAll(filepath.Dir(flat), 0o755)
	var script strings.Builder
	script.WriteString("label: gpt\n")
	start := int64(1)
	for _, p := range parts {
		script.WriteString("start=" + strconv.FormatInt(start*2048, 10) + ", size=" + strconv.FormatInt(p.mib*2048, 10) + ", type=" + p.typ + ", name=" + p.name + "\n")
		start += p.mib
	}
	f, err := os.Create(flat)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(diskMiB << 20); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sfdisk, "-q", flat)
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	start = 1
	for _, p := range parts {
		tool := testenv.Tool(t, p.tool)
		img := filepath.Join(dir, p.name+".img")
		os.WriteFile(img, nil, 0o644)
		os.Truncate(img, p.mib<<20)
		if out, err := exec.Command(tool, append(p.args, img)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", p.tool, err, out)
		}
		copySparse(t, f, img, start<<20)
		start += p.mib
	}
	desc := "# Disk DescriptorFile\nversion=1\nCID=abcdef01\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\nRW " + strconv.FormatInt(diskMiB*2048, 10) + " VMFS \"guest-flat.vmdk\"\n\nddb.adapterType = \"pvscsi\"\n"
	os.WriteFile(filepath.Join(dir, "vm", "guest.vmdk"), []byte(desc), 0o644)

	r, err := Preview(context.Background(), os.DirFS(dir), "vm/guest.vmdk", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := r.VMDK
	if s.Error != "" || s.Table == nil || s.Table.Scheme != "gpt" || len(s.Table.Partitions) != len(parts) {
		t.Fatalf("summary %+v table %+v", s, s.Table)
	}
	start = 1
	for i, p := range parts {
		got := s.Table.Partitions[i]
		if got.Name != p.name || got.FS != p.fs || got.Start != start<<20 || got.Size != p.mib<<20 {
			t.Errorf("partition %d = %+v, want %s %s at %d MiB", i+1, got, p.name, p.fs, start)
		}
		start += p.mib
	}
	var out bytes.Buffer
	r.WriteText(&out)
	for _, want := range []string{"partition table: GPT, 512-byte sectors, 4 partition(s)", "ext4", "FAT16", "swap", "NTFS", "adapter:   pvscsi"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

package guest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
)

// openImages opens image files as the disks of a tree.
func openImages(t testing.TB, paths ...string) *Tree {
	t.Helper()
	var disks []Disk
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fi, _ := f.Stat()
		disks = append(disks, Disk{Name: path.Base(p), R: f, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	tree, err := Open(context.Background(), disks, Options{Search: true})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// checkFiles reads every file through the tree below dir and compares it
// with what the file system's tool read, by ReadAt in odd pieces too.
func checkFiles(t *testing.T, tree fs.FS, dir string, files []guestFile) {
	t.Helper()
	for _, f := range files {
		name := path.Join(dir, f.path)
		b, err := fs.ReadFile(tree, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != f.sha256 || len(b) != f.size {
			t.Errorf("%s: %d bytes sha256 %s, the tool reads %d bytes %s", name, len(b), got, f.size, f.sha256)
		}
		fh, err := tree.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		ra, ok := fh.(io.ReaderAt)
		if !ok {
			t.Fatalf("%s: %T is no io.ReaderAt", name, fh)
		}
		if f.size > 1000 {
			part := make([]byte, 777)
			if _, err := ra.ReadAt(part, 123); err != nil || string(part) != string(b[123:900]) {
				t.Errorf("%s: ReadAt(777 at 123): %v or other bytes", name, err)
			}
		}
		fh.Close()
		info, err := fs.Stat(tree, name)
		if err != nil {
			t.Fatal(err)
		}
		gi, ok := info.Sys().(*Info)
		if !ok || gi.State != "live" || gi.Layer == "" {
			t.Errorf("%s: Sys() = %#v, want an *Info with layer and live state", name, info.Sys())
		}
	}
}

func rootNames(t *testing.T, tree fs.FS, dir string) []string {
	t.Helper()
	list, err := fs.ReadDir(tree, dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

// An MBR disk partitioned by sfdisk: a FAT16 primary, an extended
// partition holding a FAT32 logical and an unformatted logical. Linux
// numbers them p1, p5, p6; the extended partition itself holds nothing.
func TestMBRWithLogicalPartitions(t *testing.T) {
	img := sparseImage(t, "mbr.img", 200<<20)
	guesttest.Run(t, "label: dos\nstart=2048, size=40MiB, type=6\nstart=83968, type=5\nsize=80MiB, type=c\nsize=20MiB, type=83\n", "sfdisk", "-q", img)
	p1 := fatFiles(t, img, 2048*512, 40<<20, 16, map[string]int{"README.TXT": 12, "docs/A long file name.bin": 70001, "empty.dat": 0})
	// The first logical partition starts one track after its EBR.
	tbl := guesttest.Run(t, "", "sfdisk", "-J", img)
	start5 := sfdiskStart(t, tbl, 5)
	p5 := fatFiles(t, img, start5, 80<<20, 32, map[string]int{"deep/er/still/file.bin": 100 << 10, "big.bin": 200<<10 + 3})

	tree := openImages(t, img)
	if got := rootNames(t, tree, "."); !slices.Equal(got, []string{"p1", "p5", "p6"}) {
		t.Fatalf("root lists %v, want p1 p5 p6", got)
	}
	checkFiles(t, tree, "p1", p1)
	checkFiles(t, tree, "p5", p5)
	_, err := fs.ReadDir(tree, "p6")
	if !errors.Is(err, ErrNotReadable) {
		t.Errorf("p6 (no file system): %v, want ErrNotReadable", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "p6" || !strings.Contains(err.Error(), fmt.Sprintf("copy out its %d bytes from byte %d of the disk", 20<<20, start5+(80<<20)+(1<<20))) {
		t.Errorf("p6: %v: want the path and the bytes to copy out", err)
	}
	info, err := fs.Stat(tree, "p5")
	if err != nil {
		t.Fatal(err)
	}
	if gi := info.Sys().(*Info); gi.Layer != "partition p5 (FAT32 (LBA)), FAT32" || gi.FS != "FAT32" {
		t.Errorf("p5 Info %+v", gi)
	}
	if _, err := fs.Stat(tree, "p1/no/such"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("p1/no/such: %v", err)
	}
	if _, err := fs.Stat(tree, "p2"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("p2 (the extended partition): %v", err)
	}
	for dir, files := range map[string][]guestFile{"p1": p1, "p5": p5} {
		sub, err := fs.Sub(tree, dir)
		if err != nil {
			t.Fatal(err)
		}
		var expect []string
		for _, f := range files {
			expect = append(expect, f.path)
		}
		if err := fstest.TestFS(sub, expect...); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
}

// sfdiskStart returns the byte offset of partition number n in sfdisk -J
// output.
func sfdiskStart(t *testing.T, js string, n int) int64 {
	t.Helper()
	var tbl struct {
		PartitionTable struct {
			Partitions []struct {
				Node  string `json:"node"`
				Start int64  `json:"start"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(js), &tbl); err != nil {
		t.Fatal(err)
	}
	for _, p := range tbl.PartitionTable.Partitions {
		if strings.HasSuffix(p.Node, "img"+strconv.Itoa(n)) {
			return p.Start * 512
		}
	}
	t.Fatalf("no partition %d in %s", n, js)
	return 0
}

// A FAT file system on the whole disk, without a table: its root is the
// tree's root.
func TestWholeDiskFileSystem(t *testing.T) {
	img := sparseImage(t, "whole.img", 16<<20)
	files := fatFiles(t, img, 0, 16<<20, 16, map[string]int{"a.txt": 5, "d/b.bin": 9000})
	tree := openImages(t, img)
	checkFiles(t, tree, ".", files)
	if w := tree.Warnings(); len(w) > 0 {
		t.Errorf("warnings for a FAT boot sector read as a table: %q", w)
	}
	if err := fstest.TestFS(tree, "a.txt", "d/b.bin"); err != nil {
		t.Error(err)
	}
	if gi := mustStat(t, tree, "d/b.bin").Sys().(*Info); gi.Layer != "disk, FAT16" {
		t.Errorf("layer %q", gi.Layer)
	}
}

// Several disks: one directory per disk, NAME@.
func TestSeveralDisks(t *testing.T) {
	a := sparseImage(t, "vm1.img", 64<<20)
	guesttest.Run(t, "label: gpt\nstart=2048, size=30MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=data\n", "sfdisk", "-q", a)
	fa := fatFiles(t, a, 1<<20, 30<<20, 16, map[string]int{"x.txt": 100})
	b := sparseImage(t, "vm1_1.img", 8<<20)
	fb := fatFiles(t, b, 0, 8<<20, 12, map[string]int{"y.txt": 200})
	tree := openImages(t, a, b)
	if got := rootNames(t, tree, "."); !slices.Equal(got, []string{"vm1.img@", "vm1_1.img@"}) {
		t.Fatalf("root lists %v", got)
	}
	checkFiles(t, tree, "vm1.img@/p1", fa)
	checkFiles(t, tree, "vm1_1.img@", fb)
	if err := fstest.TestFS(tree, "vm1.img@/p1/x.txt", "vm1_1.img@/y.txt"); err != nil {
		t.Error(err)
	}
	if gi := mustStat(t, tree, "vm1.img@/p1").Sys().(*Info); gi.Layer != `disk vm1.img partition p1 (Basic data, "data"), FAT16` {
		t.Errorf("layer %q", gi.Layer)
	}
}

// Ransomware destroyed the partition table (and its GPT backup), the
// FAT32 boot sector and the head of an ext4 file system: partition.Search
// places both by their backups, their readers open them in place from
// those, and a warning says so.
func TestLostPartitionTable(t *testing.T) {
	img := sparseImage(t, "lost.img", 200<<20)
	guesttest.Run(t, "label: gpt\nstart=4096, size=70MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n"+
		"start=149504, size=64MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n", "sfdisk", "-q", img)
	files := fatFiles(t, img, 4096*512, 70<<20, 32, map[string]int{"doc.txt": 3000})
	p2 := extFiles(t, img, 73<<20, 64<<20, hostFiles(t, map[string]int{"home/u/thesis.tex": 20000}), []string{"home/u/thesis.tex"})
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 1<<20)
	for i := range junk {
		junk[i] = byte(i*7 + 1)
	}
	f.WriteAt(junk, 0)                       // MBR, GPT header and entries
	f.WriteAt(junk[:64<<10], 200<<20-64<<10) // the backup GPT
	f.WriteAt(junk[:512], 2<<20)             // the FAT32 boot sector
	f.WriteAt(junk[:64<<10], 73<<20)         // the ext4 superblock and group descriptors
	f.Close()
	tree := openImages(t, img)
	if got := rootNames(t, tree, "."); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("root lists %v, want p1 p2", got)
	}
	checkFiles(t, tree, "p1", files)
	checkFiles(t, tree, "p2", p2)
	w := strings.Join(tree.Warnings(), "\n")
	if !strings.Contains(w, "no partition table") || !strings.Contains(w, "p1 = FAT32 at byte 2097152 (its head destroyed; read from its backup)") || !strings.Contains(w, "p2 = ext4 at byte 76546048 (its head destroyed") {
		t.Errorf("warnings: %s", w)
	}
}

func mustStat(t *testing.T, fsys fs.FS, name string) fs.FileInfo {
	t.Helper()
	info, err := fs.Stat(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A Linux disk partitioned by sfdisk (GPT): ext4 made by mkfs.ext4 -d,
// XFS made by mkfs.xfs -p, and swap, which is listed but not read.
func TestLinuxDisk(t *testing.T) {
	img := sparseImage(t, "linux.img", 400<<20)
	guesttest.Run(t, "label: gpt\nstart=2048, size=64MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n"+
		"size=300MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=data\nsize=16MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\n", "sfdisk", "-q", img)
	src := hostFiles(t, map[string]int{"etc/hostname": 7, "var/lib/db.bin": 200<<10 + 5, "home/u/empty": 0})
	if err := os.Symlink("../etc/hostname", src+"/home/name"); err != nil {
		t.Fatal(err)
	}
	p1 := extFiles(t, img, 1<<20, 64<<20, src, []string{"etc/hostname", "var/lib/db.bin", "home/u/empty"})

	xsrc := hostFiles(t, map[string]int{"report.txt": 4000})
	xfsImg := sparseImage(t, "xfs.img", 300<<20)
	proto := xfsImg + ".proto"
	os.WriteFile(proto, []byte("boot\n0 0\nd--755 0 0\nreport.txt ---644 0 0 "+xsrc+"/report.txt\n$\n"), 0o644)
	guesttest.Run(t, "", "mkfs.xfs", "-q", "-f", "-p", proto, xfsImg)
	placeImage(t, img, 65<<20, xfsImg)
	want, _ := os.ReadFile(xsrc + "/report.txt")
	sum := sha256.Sum256(want)
	p2 := []guestFile{{path: "report.txt", size: len(want), sha256: hex.EncodeToString(sum[:])}}

	swap := sparseImage(t, "swap.img", 16<<20)
	guesttest.Run(t, "", "mkswap", swap)
	placeImage(t, img, 365<<20, swap)

	tree := openImages(t, img)
	if got := rootNames(t, tree, "."); !slices.Equal(got, []string{"p1", "p2", "p3"}) {
		t.Fatalf("root lists %v", got)
	}
	checkFiles(t, tree, "p1", p1)
	checkFiles(t, tree, "p2", p2)
	if target, err := fs.ReadLink(tree, "p1/home/name"); err != nil || target != "../etc/hostname" {
		t.Errorf("p1/home/name -> %q, %v", target, err)
	}
	if gi := mustStat(t, tree, "p1/etc/hostname").Sys().(*Info); gi.FS != "ext4" || gi.Entry == nil || gi.Entry.ID == 0 {
		t.Errorf("p1/etc/hostname Info %+v", gi)
	}
	if _, err := fs.ReadDir(tree, "p3"); !errors.Is(err, ErrNotReadable) || !strings.Contains(err.Error(), "swap") {
		t.Errorf("p3 (swap): %v", err)
	}
	sub, _ := fs.Sub(tree, "p1")
	if err := fstest.TestFS(sub, "etc/hostname", "home/name"); err != nil {
		t.Error(err)
	}
}

// A Windows disk partitioned by sfdisk (GPT): an EFI system partition
// (FAT16 by mkfs.fat) and NTFS made by mkntfs, filled by ntfscp; every
// file's sha256 equal to what ntfscat reads.
func TestWindowsDisk(t *testing.T) {
	img := sparseImage(t, "win.img", 80<<20)
	guesttest.Run(t, "label: gpt\nstart=2048, size=20MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=EFI\n"+
		"size=50MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=Windows\n", "sfdisk", "-q", img)
	p1 := fatFiles(t, img, 1<<20, 20<<20, 16, map[string]int{"EFI/BOOT/BOOTX64.EFI": 30000})
	ntfsImg := sparseImage(t, "ntfs.img", 50<<20)
	guesttest.Run(t, "", "mkntfs", "-q", "-F", "-Q", ntfsImg)
	src := hostFiles(t, map[string]int{"report.docx": 70000, "hello.txt": 12})
	var p2 []guestFile
	for _, name := range []string{"report.docx", "hello.txt"} {
		guesttest.Run(t, "", "ntfscp", "-f", ntfsImg, filepath.Join(src, name), name)
		back := guesttest.Run(t, "", "ntfscat", ntfsImg, name)
		sum := sha256.Sum256([]byte(back))
		p2 = append(p2, guestFile{path: name, size: len(back), sha256: hex.EncodeToString(sum[:])})
	}
	placeImage(t, img, 21<<20, ntfsImg)
	tree := openImages(t, img)
	if got := rootNames(t, tree, "."); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("root lists %v", got)
	}
	checkFiles(t, tree, "p1", p1)
	checkFiles(t, tree, "p2", p2)
	if gi := mustStat(t, tree, "p2/HELLO.TXT").Sys().(*Info); gi.FS != "NTFS" || gi.Layer != `partition p2 (Basic data, "Windows"), NTFS` {
		t.Errorf("p2/HELLO.TXT (looked up case-insensitively): %+v", gi)
	}
}

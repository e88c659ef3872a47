// Package guesttest makes virtual disks for the tests of the packages that
// read them, with the file systems' own tools: a raw disk image
// partitioned by sfdisk whose one partition holds ext4 made by
// mkfs.ext4 -d from a folder, and the VMDK descriptor that makes such an
// image a VM's disk. A missing tool skips the test (internal/testenv).
package guesttest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// PartitionStart is the byte offset of Ext4Disk's partition.
const PartitionStart = 1 << 20

// Ext4Disk writes at path a sparse disk image of size bytes with an MBR
// (sfdisk) and one Linux partition from PartitionStart to the end,
// formatted as ext4 by mkfs.ext4 -d holding the files of folder src.
func Ext4Disk(tb testing.TB, path string, size int64, src string) {
	tb.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		tb.Fatal(err)
	}
	Run(tb, "label: dos\nstart=2048, type=83\n", "sfdisk", "-q", path)
	Run(tb, "", "mkfs.ext4", "-q", "-E", fmt.Sprintf("offset=%d", PartitionStart), "-d", src, path, fmt.Sprintf("%dk", (size-PartitionStart)>>10))
}

// ReadExt4 returns a file of Ext4Disk's partition as debugfs reads it.
func ReadExt4(tb testing.TB, disk, name string) []byte {
	tb.Helper()
	return []byte(Run(tb, "", "debugfs", "-R", "cat /"+name, fmt.Sprintf("%s?offset=%d", disk, PartitionStart)))
}

// Descriptor is the text of a VMDK descriptor (createType vmfs) whose one
// extent is the raw image flat, of size bytes, named relative to it.
func Descriptor(flat string, size int64) []byte {
	return fmt.Appendf(nil, "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\nRW %d VMFS %q\n", size/512, flat)
}

// Run runs an outside program with stdin and returns its standard output;
// it fails the test with the program's output when the program fails.
func Run(tb testing.TB, stdin, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(testenv.Tool(tb, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

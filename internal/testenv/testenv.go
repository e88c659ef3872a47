package testenv

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireEnv is the environment variable that turns a skip for a missing
// tool or environment into a failure when set to 1.
const RequireEnv = "VMFSRECOVER_REQUIRE_TOOLS"

// Required reports whether every tool and environment must be present.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// debianPackages names, for each outside program a test runs, the Debian 12
// package that brings it. .ci/run installs every one of them
// (TestCIInstallsEveryPackage).
var debianPackages = map[string]string{
	"btrfs":            "btrfs-progs",
	"cat":              "coreutils",
	"cp":               "coreutils",
	"curl":             "curl",
	"debugfs":          "e2fsprogs",
	"debugvmfs":        "vmfs-tools",
	"debugvmfs6":       "vmfs6-tools",
	"dd":               "coreutils",
	"ddrescue":         "gddrescue",
	"mactime":          "sleuthkit",
	"fls":              "sleuthkit",
	"ddrescuelog":      "gddrescue",
	"dump.exfat":       "exfatprogs",
	"e2fsck":           "e2fsprogs",
	"gzip":             "gzip",
	"hexdump":          "bsdextrautils",
	"git":              "git",
	"losetup":          "mount",
	"ls":               "coreutils",
	"lvm":              "lvm2",
	"make":             "make",
	"mdadm":            "mdadm",
	"mkfs.btrfs":       "btrfs-progs",
	"mkfs.exfat":       "exfatprogs",
	"fsck.exfat":       "exfatprogs",
	"filefrag":         "e2fsprogs",
	"fsfreeze":         "util-linux",
	"mkfs.ext2":        "e2fsprogs",
	"mkfs.ext3":        "e2fsprogs",
	"mkfs.ext4":        "e2fsprogs",
	"mkfs.fat":         "dosfstools",
	"mkfs.ntfs":        "ntfs-3g",
	"mkfs.vfat":        "dosfstools",
	"mkfs.xfs":         "xfsprogs",
	"mkntfs":           "ntfs-3g",
	"ntfs-3g":          "ntfs-3g",
	"ntfscat":          "ntfs-3g",
	"ntfscp":           "ntfs-3g",
	"ntfsls":           "ntfs-3g",
	"mkswap":           "util-linux",
	"mcopy":            "mtools",
	"mdel":             "mtools",
	"mdeltree":         "mtools",
	"mdir":             "mtools",
	"mmd":              "mtools",
	"mount":            "mount",
	"mount.exfat-fuse": "exfat-fuse",
	"nbdcopy":          "libnbd-bin",
	"nbdkit":           "nbdkit",
	"partx":            "util-linux",
	"python3":          "python3-vmdkstream",
	"qemu-img":         "qemu-utils",
	"qemu-io":          "qemu-utils",
	"qemu-nbd":         "qemu-utils",
	"sfdisk":           "fdisk",
	"sgdisk":           "gdisk",
	"sqlite3":          "sqlite3",
	"sync":             "coreutils",
	"ssh":              "openssh-client",
	"ssh-add":          "openssh-client",
	"ssh-agent":        "openssh-client",
	"ssh-keygen":       "openssh-client",
	"sshd":             "openssh-server",
	"testdisk":         "testdisk",
	"tmux":             "tmux",
	"umount":           "mount",
	"vsftpd":           "vsftpd",
	"xfs_db":           "xfsprogs",
	"xfs_repair":       "xfsprogs",
	"find":             "findutils",
	"fusermount":       "fuse3",
	"time":             "time",
	"vmfs-fuse":        "vmfs-tools",
}

// DebianPackage returns the Debian package that brings program name, or
// "" when the table does not know it.
func DebianPackage(name string) string { return debianPackages[filepath.Base(name)] }

// Lacks stops the test because the environment lacks what the message
// names (root, /dev/fuse, a loop device, the real samples): a skip, or a
// failure under VMFSRECOVER_REQUIRE_TOOLS=1.
func Lacks(tb testing.TB, format string, args ...any) {
	tb.Helper()
	lacking(tb, tb.Skip, format, args...)
}

// Partly says that the test leaves out one of its comparisons because the
// environment lacks what the message names: a log line, or a failure under
// VMFSRECOVER_REQUIRE_TOOLS=1.
func Partly(tb testing.TB, format string, args ...any) {
	tb.Helper()
	lacking(tb, tb.Log, format, args...)
}

// lacking fails tb when every tool must be present, and otherwise says
// what is missing through then (Skip or Log).
func lacking(tb testing.TB, then func(...any), format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		tb.Fatalf("%s (%s=1: every tool and environment must be present)", msg, RequireEnv)
	}
	then(msg)
}

// Tool returns the path of the outside program name, found on PATH or in
// /usr/sbin and /sbin (which a non-root PATH often leaves out). When it is
// missing the test stops through Lacks, naming its Debian package.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := look(tb, name)
	if err != nil {
		Lacks(tb, "%v", err)
	}
	return path
}

// LookTool is Tool for a program that adds one comparison to a test that
// means something without it: when it is missing, LookTool reports false
// through Partly.
func LookTool(tb testing.TB, name string) (string, bool) {
	tb.Helper()
	path, err := look(tb, name)
	if err != nil {
		Partly(tb, "%v; leaving out what needs it", err)
		return "", false
	}
	return path, true
}

func look(tb testing.TB, name string) (string, error) {
	tb.Helper()
	pkg := DebianPackage(name)
	if pkg == "" {
		tb.Fatalf("testenv: no Debian package known for %s: add it to debianPackages and to .ci/run", name)
	}
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	if filepath.IsAbs(name) {
		return "", fmt.Errorf("%s not installed (Debian package %s)", name, pkg)
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not installed (Debian package %s)", name, pkg)
}

// WriteBack makes the kernel file system mounted at mountpoint write
// everything back in place on its device, log or journal checkpointed
// (fsfreeze -f, then -u). A test that unmounts a loop mount and then reads
// its image calls it first: the unmount writes back only when it ends the
// file system, and a copy of the mount in a mount namespace made meanwhile
// (by another test package's process) keeps it alive.
func WriteBack(tb testing.TB, mountpoint string) {
	tb.Helper()
	fsfreeze := Tool(tb, "fsfreeze")
	for _, op := range []string{"-f", "-u"} {
		if out, err := exec.Command(fsfreeze, op, mountpoint).CombinedOutput(); err != nil {
			tb.Fatalf("fsfreeze %s %s: %v: %s", op, mountpoint, err, out)
		}
	}
}

// ModuleRoot returns the folder holding go.mod, found upward from the
// test's working directory (a package folder); "" when there is none.
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Testdata returns the path of elem under the top-level testdata folder,
// which holds what the tests of several packages share (see its README).
func Testdata(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := ModuleRoot()
	if root == "" {
		tb.Fatal("testenv: no go.mod above the working directory")
	}
	return filepath.Join(append([]string{root, "testdata"}, elem...)...)
}

// FileSHA256 is the sha256 of a file's content, for tests that check a
// source was left untouched.
func FileSHA256(tb testing.TB, name string) [32]byte {
	tb.Helper()
	f, err := os.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

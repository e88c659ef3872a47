package export

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// FTPDRootEnv names a folder where the .deb packages of FTP servers that
// cannot be installed beside vsftpd (pure-ftpd, proftpd-core: they all
// conflict as Debian packages) were unpacked with dpkg-deb -x; .ci/run
// sets it. Without it the servers are looked for where an installed
// package puts them.
const FTPDRootEnv = "VMFSRECOVER_FTPD_ROOT"

// ftpdBinary finds a server program: under $VMFSRECOVER_FTPD_ROOT/rel, or
// installed.
func ftpdBinary(t *testing.T, rel, pkg string) string {
	t.Helper()
	if root := os.Getenv(FTPDRootEnv); root != "" {
		p := filepath.Join(root, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, p := range []string{filepath.Join("/", rel), filepath.Join("/usr/sbin", path.Base(rel)), filepath.Join("/usr/bin", path.Base(rel))} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	testenv.Lacks(t, "%s not found: install Debian package %s, or unpack it with dpkg-deb -x into a folder named by %s (see .ci/run)", path.Base(rel), pkg, FTPDRootEnv)
	return ""
}

// ftpdUser is the virtual user the servers below log in: its files belong
// to nobody, whose uid the server switches to, so the server runs as root.
const (
	ftpdUser = "tester"
	ftpdPass = "t3st-pass"
	nobody   = 65534
)

// ftpdHome makes the user's home: a folder nobody can write.
func ftpdHome(t *testing.T) (dir, home string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Lacks(t, "pure-ftpd and proftpd log a virtual user in as another uid: the test needs root")
	}
	dir = t.TempDir()
	// proftpd refuses a login whose home nobody cannot reach: t.TempDir's
	// own parent is 0700.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	home = filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return dir, home
}

// runServer starts a server in the foreground, stopped when the test ends,
// and waits for its port.
func runServer(t testing.TB, addr string, name string, args ...string) {
	t.Helper()
	startServer(t, addr, name, exec.Command(name, args...))
}

// runServerPrivateRun is runServer for a server that keeps files in /run
// where no option moves them (pure-ftpd: a file per session in
// /run/pure-ftpd, left behind by sessions the tests cut): it runs in a
// mount namespace of its own with an empty tmpfs on /run.
//
// The namespace starts as a copy of every mount there is, those other test
// packages running beside this one made too; a copy keeps its file system
// alive after the test that made it unmounts it, so an XFS or ext4 image
// filled through a loop mount is not written back when that test reads it
// (it found XFS directories empty in CI). The copies of loop, FUSE and
// temporary-folder mounts are detached before the server starts.
func runServerPrivateRun(t testing.TB, addr string, name string, args ...string) {
	t.Helper()
	const script = `mount -t tmpfs vmfsrecover-test /run || exit
tac /proc/self/mounts | while read -r src dir fstype rest; do
	case "$src $fstype $dir/" in
	/dev/loop*|*" fuse"*|*" $VMFSRECOVER_TEST_TMP/"?*) umount -l "$dir" 2>/dev/null ;;
	esac
done
exec "$0" "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, name}, args...)...)
	cmd.Env = append(os.Environ(), "VMFSRECOVER_TEST_TMP="+filepath.Clean(os.TempDir()))
	// Go makes the new namespace's mounts private, so the tmpfs is seen
	// by the server alone and the detaching stays in the namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	startServer(t, addr, name, cmd)
}

func startServer(t testing.TB, addr, name string, cmd *exec.Cmd) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM lets a server remove what it keeps of its sessions (pure-ftpd
	// keeps a file per client in /run/pure-ftpd); SIGKILL if it lingers.
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if i > 500 { // 10 s: the machine may be busy
			t.Fatalf("%s did not start: %v\n%s", filepath.Base(name), err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ftpdHarness is the conformance harness of a server started by start,
// which returns its address and the user's home folder.
func ftpdHarness(start func(t *testing.T) (addr, home string)) func(t *testing.T) *harness {
	return func(t *testing.T) *harness {
		addr, home := start(t)
		dest := func(dir string) *FTP {
			d, err := ParseFTPURL("ftp://" + ftpdUser + "@" + addr + "/" + dir)
			if err != nil {
				t.Fatal(err)
			}
			d.SetPassword(ftpdPass)
			// Generous: a loaded CI machine (or -race) has taken over 5 s to log in.
			d.DialTimeout, d.IOTimeout = 30*time.Second, 30*time.Second
			return d
		}
		// Both set a directory's time with MFMT, as they do a file's.
		return &harness{dest: dest(""), at: func(t *testing.T, dir string) Destination { return dest(dir) }, dirTimes: true,
			mtime: func(t *testing.T, name string) (time.Time, bool) {
				fi, err := os.Stat(filepath.Join(home, name))
				if err != nil {
					t.Fatal(err)
				}
				return fi.ModTime().UTC(), true
			}}
	}
}

// startPureFTPd runs pure-ftpd (Debian package pure-ftpd) with a virtual
// user from a PureDB made by its pure-pw. Options: -E no anonymous (whose
// home would be the system's ftp user's), -A chroot, -H no DNS, passive
// ports from a free one on loopback.
func startPureFTPd(t *testing.T) (addr, home string) {
	bin := ftpdBinary(t, "usr/sbin/pure-ftpd", "pure-ftpd")
	pw := ftpdBinary(t, "usr/bin/pure-pw", "pure-ftpd")
	dir, home := ftpdHome(t)
	passwd, pdb := filepath.Join(dir, "passwd"), filepath.Join(dir, "pureftpd.pdb")
	add := exec.Command(pw, "useradd", ftpdUser, "-u", strconv.Itoa(nobody), "-g", strconv.Itoa(nobody), "-d", home, "-f", passwd, "-m", "-F", pdb)
	add.Stdin = strings.NewReader(ftpdPass + "\n" + ftpdPass + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("pure-pw useradd: %v\n%s", err, out)
	}
	port, pasv := freePort(t), freePort(t)
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	runServerPrivateRun(t, addr, bin, "-S", "127.0.0.1,"+strconv.Itoa(port), "-l", "puredb:"+pdb, "-E", "-A", "-H", "-g", filepath.Join(dir, "pure-ftpd.pid"),
		"-p", fmt.Sprintf("%d:%d", pasv, pasv+40), "-P", "127.0.0.1", "-c", "50")
	return addr, home
}

// startProFTPd runs proftpd (Debian package proftpd-core) standalone in
// the foreground with a configuration of its own: a virtual user from an
// AuthUserFile (bcrypt hash, which crypt(3) takes), no PAM, no system
// files outside the test's folder.
func startProFTPd(t *testing.T) (addr, home string) {
	bin := ftpdBinary(t, "usr/sbin/proftpd", "proftpd-core")
	dir, home := ftpdHome(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(ftpdPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"passwd": fmt.Sprintf("%s:%s:%d:%d::%s:/bin/false\n", ftpdUser, hash, nobody, nobody, home),
		"group":  fmt.Sprintf("nogroup:x:%d:\n", nobody),
	}
	port, pasv := freePort(t), freePort(t)
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	files["proftpd.conf"] = fmt.Sprintf(`ServerType standalone
DefaultServer on
ServerName "vmfsrecover test"
Port %d
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
User nobody
Group nogroup
MaxInstances 50
PidFile %[2]s/proftpd.pid
ScoreboardFile %[2]s/proftpd.scoreboard
DelayEngine off
ControlsEngine off
WtmpLog off
TransferLog none
SystemLog %[2]s/proftpd.log
UseReverseDNS off
AuthPAM off
AuthOrder mod_auth_file.c
AuthUserFile %[2]s/passwd
AuthGroupFile %[2]s/group
RequireValidShell off
DefaultRoot ~
PassivePorts %[3]d %[4]d
MasqueradeAddress 127.0.0.1
AllowOverwrite on
AllowStoreRestart on
AllowRetrieveRestart on
Umask 022
`, port, dir, pasv, pasv+40)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	runServer(t, addr, bin, "-n", "-c", filepath.Join(dir, "proftpd.conf"))
	return addr, home
}

func TestPureFTPdConformance(t *testing.T) { runConformance(t, ftpdHarness(startPureFTPd)) }

func TestProFTPdConformance(t *testing.T) { runConformance(t, ftpdHarness(startProFTPd)) }

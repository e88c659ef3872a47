// Package remotetest starts real servers on loopback for tests of remote
// sources: qemu-nbd exporting an image, and OpenSSH's sshd with a
// generated host key and one authorized user key. Tests that need them
// skip when the binaries are missing (Debian packages qemu-utils and
// openssh-server).
package remotetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"golang.org/x/crypto/ssh"
)

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve starts cmd, a server, and waits until it accepts connections on
// port; the buffer collects what it writes on stderr.
func serve(t testing.TB, cmd *exec.Cmd, port int) *bytes.Buffer {
	t.Helper()
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// Generous: on a loaded 2-core machine qemu-nbd with TLS has taken
	// over 10 s to listen.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return stderr
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", cmd.Path, stderr)
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	// stderr is written by exec's copying goroutine until the process is
	// gone: end it before reading what it said.
	cmd.Process.Kill()
	<-exited
	t.Fatalf("%s did not start listening on port %d: %s", cmd.Path, port, stderr)
	return nil
}

// NBD is a qemu-nbd process exporting one image read-only.
type NBD struct {
	Port   int
	t      testing.TB
	args   []string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// StartQemuNBD exports image (format raw, vmdk, qcow2...) under export
// name ("" for the default export) until the test ends.
func StartQemuNBD(t testing.TB, image, format, name string) *NBD {
	t.Helper()
	bin := testenv.Tool(t, "qemu-nbd")
	s := &NBD{t: t, Port: FreePort(t)}
	s.args = []string{bin, "-r", "-t", "-e", "8", "-f", format, "--bind", "127.0.0.1", "-p", strconv.Itoa(s.Port)}
	if name != "" {
		s.args = append(s.args, "-x", name)
	}
	s.args = append(s.args, image)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// StartNBDKit exports image read-only with nbdkit's file plugin, a second
// NBD server implementation; flags go before the plugin (e.g. "--no-sr"
// for a server without structured replies, "-o" for oldstyle).
func StartNBDKit(t testing.TB, image string, flags ...string) *NBD {
	t.Helper()
	return StartNBDKitWith(t, image, flags, nil)
}

// StartNBDKitWith is StartNBDKit with parameters after the plugin's, for
// filters: flags {"--filter=delay"}, params {"delay-read=100ms"}.
func StartNBDKitWith(t testing.TB, image string, flags, params []string) *NBD {
	t.Helper()
	bin := testenv.Tool(t, "nbdkit")
	s := &NBD{t: t, Port: FreePort(t)}
	s.args = append([]string{bin, "-r", "-f", "-i", "127.0.0.1", "-p", strconv.Itoa(s.Port)}, flags...)
	s.args = append(append(s.args, "file", "file="+image), params...)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its port.
func (s *NBD) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.stderr = serve(s.t, s.cmd, s.Port)
}

// Stop kills the server and every connection it serves.
func (s *NBD) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	for i := 0; i < 200 && syscall.Kill(s.cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause stops (SIGSTOP) the server: connections stay open but nothing is
// answered, as over a link that hangs. Resume continues it.
func (s *NBD) Pause()  { syscall.Kill(-s.cmd.Process.Pid, syscall.SIGSTOP) }
func (s *NBD) Resume() { syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT) }

// URL is the nbd:// SOURCE of export name.
func (s *NBD) URL(name string) string {
	return "nbd://127.0.0.1:" + strconv.Itoa(s.Port) + "/" + name
}

// SSHD is an OpenSSH sshd on a loopback port, with its own host key and
// one authorized user key. It serves SFTP with internal-sftp.
type SSHD struct {
	Port     int
	User     string
	Identity string        // private key file of the authorized user
	HostKey  ssh.PublicKey // the server's host key
	t        testing.TB
	bin      string // sshd, by its absolute path: sshd re-executes itself
	dir      string
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
}

// StartSSHD starts sshd until the test ends; config lines are added to
// its sshd_config (such as "MaxSessions 1").
func StartSSHD(t testing.TB, config ...string) *SSHD {
	t.Helper()
	bin := testenv.Tool(t, "sshd")
	keygen := testenv.Tool(t, "ssh-keygen")
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root wants its privilege separation directory,
		// which the Debian package creates only when the service starts.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			testenv.Lacks(t, "sshd needs /run/sshd: %v", err)
		}
	}
	s := &SSHD{t: t, bin: bin, Port: FreePort(t), dir: t.TempDir(), User: u.Username}
	hk := filepath.Join(s.dir, "host_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", hk).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pubText, err := os.ReadFile(hk + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if s.HostKey, _, _, _, err = ssh.ParseAuthorizedKey(pubText); err != nil {
		t.Fatal(err)
	}
	pub, priv := newUserKey(t)
	s.Identity = filepath.Join(s.dir, "id_ed25519")
	os.WriteFile(s.Identity, priv, 0o600)
	os.WriteFile(filepath.Join(s.dir, "authorized_keys"), pub, 0o600)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel ERROR
`, s.Port, hk, filepath.Join(s.dir, "authorized_keys")) + strings.Join(config, "\n") + "\n"
	os.WriteFile(filepath.Join(s.dir, "sshd_config"), []byte(cfg), 0o600)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// newUserKey returns an authorized_keys line and an OpenSSH private key.
func newUserKey(t testing.TB) ([]byte, []byte) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(sk, "test user")
	if err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.MarshalAuthorizedKey(spk), pem.EncodeToMemory(block)
}

// Start (re)starts sshd on its port.
func (s *SSHD) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	s.stderr = serve(s.t, s.cmd, s.Port)
}

// Stop kills sshd and the per-connection processes it forked (which leave
// its process group with setsid), so open sessions drop too.
func (s *SSHD) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	killTree(s.cmd.Process.Pid)
	for i := 0; i < 200 && syscall.Kill(s.cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause stops (SIGSTOP) sshd and its sessions: connections stay open but
// nothing is answered, as over a link that hangs. Resume continues them.
func (s *SSHD) Pause()  { signalTree(s.cmd.Process.Pid, syscall.SIGSTOP) }
func (s *SSHD) Resume() { signalTree(s.cmd.Process.Pid, syscall.SIGCONT) }

func signalTree(pid int, sig syscall.Signal) {
	children := processChildren()
	var walk func(int)
	walk = func(p int) {
		syscall.Kill(p, sig)
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
}

// killTree kills pid and its descendants.
func killTree(pid int) {
	children := processChildren()
	var kill func(int)
	kill = func(p int) {
		syscall.Kill(p, syscall.SIGSTOP) // no more forks while we walk
		for _, c := range children[p] {
			kill(c)
		}
		syscall.Kill(p, syscall.SIGKILL)
	}
	kill(pid)
}

// processChildren maps each process to its children, from /proc.
func processChildren() map[int][]int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
		children[ppid] = append(children[ppid], child)
	}
	return children
}

// URL is the ssh:// SOURCE of an absolute path on the server.
func (s *SSHD) URL(path string) string {
	return fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", s.User, s.Port, path)
}

// Addr is host:port.
func (s *SSHD) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// KnownHosts writes a known_hosts file that lists key for the server.
func (s *SSHD) KnownHosts(key ssh.PublicKey) string {
	s.t.Helper()
	p := filepath.Join(s.t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(key))
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

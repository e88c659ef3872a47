package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshdServer is an OpenSSH sshd started by a test on a loopback port, with
// its own host key and one authorized user key.
type sshdServer struct {
	t        testing.TB
	port     int
	dir      string
	user     string
	identity string        // private key file of the authorized user
	hostKey  ssh.PublicKey // the server's host key
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
}

func startSSHD(t testing.TB) *sshdServer {
	t.Helper()
	const bin = "/usr/sbin/sshd"
	if _, err := exec.LookPath(bin); err != nil {
		t.Skip("sshd not installed (Debian package openssh-server)")
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed (Debian package openssh-client)")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root wants its privilege separation directory,
		// which the Debian package creates only when the service starts.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("sshd needs /run/sshd: %v", err)
		}
	}
	s := &sshdServer{t: t, port: freePort(t), dir: t.TempDir(), user: u.Username}
	hk := filepath.Join(s.dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pubText, err := os.ReadFile(hk + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if s.hostKey, _, _, _, err = ssh.ParseAuthorizedKey(pubText); err != nil {
		t.Fatal(err)
	}
	pub, priv := newUserKey(t)
	s.identity = filepath.Join(s.dir, "id_ed25519")
	os.WriteFile(s.identity, priv, 0o600)
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
`, s.port, hk, filepath.Join(s.dir, "authorized_keys"))
	os.WriteFile(filepath.Join(s.dir, "sshd_config"), []byte(cfg), 0o600)
	s.start()
	t.Cleanup(s.stop)
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

func (s *sshdServer) start() {
	s.t.Helper()
	s.stderr = &bytes.Buffer{}
	s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan struct{})
	cmd := s.cmd
	go func() { cmd.Wait(); close(exited) }()
	waitPort(s.t, s.port, cmd, exited, s.stderr)
}

// stop kills sshd and the per-connection processes it forked (which leave
// its process group with setsid), so open sessions drop too.
func (s *sshdServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	killTree(s.cmd.Process.Pid)
	for i := 0; i < 200 && syscall.Kill(s.cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// killTree kills pid and its descendants, found through /proc.
func killTree(pid int) {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
		children[ppid] = append(children[ppid], child)
	}
	var kill func(int)
	kill = func(p int) {
		syscall.Kill(p, syscall.SIGSTOP)
		for _, c := range children[p] {
			kill(c)
		}
		syscall.Kill(p, syscall.SIGKILL)
	}
	kill(pid)
}

func (s *sshdServer) url(path string) string {
	return fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", s.user, s.port, path)
}

// knownHosts writes a known_hosts file listing key for the server.
func (s *sshdServer) knownHosts(key ssh.PublicKey) string {
	s.t.Helper()
	p := filepath.Join(s.t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", s.port, ssh.MarshalAuthorizedKey(key))
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// options trusts the server's key and logs in with the user key only.
func (s *sshdServer) options() Options {
	o := testOptions()
	o.KnownHosts = s.knownHosts(s.hostKey)
	o.Identities = []string{s.identity}
	o.NoAgent = true
	o.Password = func(string, string) (string, error) { return "", fmt.Errorf("tests use keys") }
	return o
}

func (s *sshdServer) dial(t *testing.T, o Options) *FS {
	t.Helper()
	tg := Target{Scheme: "ssh", User: s.user, Host: "127.0.0.1:" + strconv.Itoa(s.port), Path: "/"}
	f, err := DialSSH(tg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

package remote

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
	"golang.org/x/crypto/ssh"
)

// passwordServer is the in-process SSH server that takes one password.
type passwordServer struct{ *remotetest.PasswordSSH }

func startPasswordServer(t *testing.T, password string, interactive bool) passwordServer {
	return passwordServer{remotetest.StartPasswordSSH(t, password, interactive)}
}

func (s passwordServer) options(t *testing.T, password string) (Target, Options) {
	o := testOptions()
	o.NoAgent = true
	o.Identities = []string{filepath.Join(t.TempDir(), "none")}
	o.AcceptHostKey = ssh.FingerprintSHA256(s.HostKey)
	o.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	o.Password = func(string, string) (string, error) { return password, nil }
	return Target{Scheme: "ssh", User: "recover", Host: s.Addr, Path: "/"}, o
}

func TestSSHPasswordLogin(t *testing.T) {
	img, data := randomImage(t, 1<<20, 14)
	const secret = "c0rrect-h0rse"
	for _, interactive := range []bool{false, true} {
		srv := startPasswordServer(t, secret, interactive)
		tg, o := srv.options(t, secret)
		f, err := DialSSH(tg, o)
		if err != nil {
			t.Fatalf("interactive=%v: %v", interactive, err)
		}
		file, err := f.Open(fsName(img))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(file)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("interactive=%v: read %d bytes, %v", interactive, len(got), err)
		}
		f.Close()

		tg, o = srv.options(t, "not-"+secret)
		_, err = DialSSH(tg, o)
		if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), secret) {
			t.Fatalf("interactive=%v, wrong password: err = %v, want ErrAuth without the password", interactive, err)
		}
	}
}

// Without a terminal and without a password source, a server that wants
// a password is refused at once, not retried as a dropped link.
func TestSSHNoPasswordSource(t *testing.T) {
	srv := startPasswordServer(t, "pw", false)
	tg, o := srv.options(t, "")
	o.Password = func(string, string) (string, error) { return "", errors.New("nobody to ask") }
	start := time.Now()
	_, err := DialSSH(tg, o)
	if !errors.Is(err, ErrAuth) || errors.Is(err, errLinkLost) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

// Login through a real ssh-agent holding the user key.
func TestSSHAgentLogin(t *testing.T) {
	for _, bin := range []string{"ssh-agent", "ssh-add"} {
		testenv.Tool(t, bin)
	}
	srv := startSSHD(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", srv.Identity)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	o := srv.options()
	o.NoAgent = false
	o.Identities = []string{filepath.Join(t.TempDir(), "none")}
	f := srv.dial(t, o)
	if _, err := f.Stat("."); err != nil {
		t.Fatal(err)
	}
	// The same without the agent is refused: the agent did the login.
	o.NoAgent = true
	if _, err := DialSSH(srv.target(), o); !errors.Is(err, ErrAuth) {
		t.Fatalf("without the agent: err = %v, want ErrAuth", err)
	}
}

// The link drops and the host that answers on the same address has
// another key: the read fails with ErrHostKeyChanged at once instead of
// trusting it or retrying until RetryFor.
func TestSSHReconnectRefusesOtherHostKey(t *testing.T) {
	img, _ := randomImage(t, 2<<20, 18)
	srv := startPasswordServer(t, "pw", false)
	tg, o := srv.options(t, "pw")
	o.RetryFor = time.Minute
	f, err := DialSSH(tg, o)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := f.Open(fsName(img))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	remotetest.StartPasswordSSHAt(t, srv.Addr, "pw", false) // a new host key
	start := time.Now()
	_, err = file.(io.ReaderAt).ReadAt(make([]byte, 100), 1<<20)
	if !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("err = %v, want ErrHostKeyChanged", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("refusal took %s: retried as a dropped link", time.Since(start))
	}
}

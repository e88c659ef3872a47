package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// passwordServer is an in-process SSH server (x/crypto/ssh with pkg/sftp's
// read-only server) that takes one password, by the password method or
// by keyboard-interactive.
type passwordServer struct {
	addr    string
	hostKey ssh.PublicKey
	l       net.Listener
	mu      sync.Mutex
	conns   []net.Conn
}

func startPasswordServer(t *testing.T, password string, interactive bool) *passwordServer {
	return startPasswordServerAt(t, "127.0.0.1:0", password, interactive)
}

// stop closes the listener and every connection.
func (s *passwordServer) stop() {
	s.l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func startPasswordServerAt(t *testing.T, addr, password string, interactive bool) *passwordServer {
	t.Helper()
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{}
	if interactive {
		cfg.KeyboardInteractiveCallback = func(c ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ask("", "", []string{"Login: ", "Password: "}, []bool{true, false})
			if err != nil || len(ans) != 2 || ans[0] != "" || ans[1] != password {
				return nil, errors.New("denied")
			}
			return nil, nil
		}
	} else {
		cfg.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) != password {
				return nil, errors.New("denied")
			}
			return nil, nil
		}
	}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &passwordServer{addr: l.Addr().String(), hostKey: signer.PublicKey(), l: l}
	t.Cleanup(s.stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go serveSFTP(c, cfg)
		}
	}()
	return s
}

func serveSFTP(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for r := range creqs {
				ok := r.Type == "subsystem" && len(r.Payload) > 4 && string(r.Payload[4:]) == "sftp"
				r.Reply(ok, nil)
				if ok {
					s, err := sftp.NewServer(ch, sftp.ReadOnly())
					if err == nil {
						s.Serve()
					}
					ch.Close()
				}
			}
		}()
	}
}

func (s *passwordServer) options(t *testing.T, password string) (Target, Options) {
	o := testOptions()
	o.NoAgent = true
	o.Identities = []string{filepath.Join(t.TempDir(), "none")}
	o.AcceptHostKey = ssh.FingerprintSHA256(s.hostKey)
	o.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	o.Password = func(string, string) (string, error) { return password, nil }
	return Target{Scheme: "ssh", User: "recover", Host: s.addr, Path: "/"}, o
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
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (Debian package openssh-client)", bin)
		}
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
	srv.stop()
	startPasswordServerAt(t, srv.addr, "pw", false) // a new host key
	start := time.Now()
	_, err = file.(io.ReaderAt).ReadAt(make([]byte, 100), 1<<20)
	if !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("err = %v, want ErrHostKeyChanged", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("refusal took %s: retried as a dropped link", time.Since(start))
	}
}

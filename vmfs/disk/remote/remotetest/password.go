package remotetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// PasswordSSH is an in-process SSH server (x/crypto/ssh with pkg/sftp's
// read-only server) that takes one password, by the password method or
// by keyboard-interactive.
type PasswordSSH struct {
	Addr    string        // host:port
	HostKey ssh.PublicKey // a new one for every server
	l       net.Listener
	mu      sync.Mutex
	conns   []net.Conn
}

// StartPasswordSSH serves on a free loopback port until the test ends. It
// serves the local file system, read-only, to whoever gives password; with
// interactive, by keyboard-interactive (a "Login:" question with echo, then
// "Password:" without) instead of the password method.
func StartPasswordSSH(t testing.TB, password string, interactive bool) *PasswordSSH {
	return StartPasswordSSHAt(t, "127.0.0.1:0", password, interactive)
}

// Stop closes the listener and every connection.
func (s *PasswordSSH) Stop() {
	s.l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// StartPasswordSSHAt is StartPasswordSSH on addr.
func StartPasswordSSHAt(t testing.TB, addr, password string, interactive bool) *PasswordSSH {
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
	s := &PasswordSSH{Addr: l.Addr().String(), HostKey: signer.PublicKey(), l: l}
	t.Cleanup(s.Stop)
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

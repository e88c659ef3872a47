package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/term"
)

// Host key and authentication failures.
var (
	ErrHostKeyUnknown = errors.New("ssh host key not in known_hosts")
	ErrHostKeyChanged = errors.New("ssh host key CHANGED")
	ErrAuth           = errors.New("ssh authentication failed")

	errNoSecret = errors.New("the server asks for a password or passphrase and there is no terminal to ask on")
)

// HostKeyError reports a host key that is not trusted: unknown to
// known_hosts, or different from the key known_hosts has for the host.
type HostKeyError struct {
	Host        string // host:port
	KeyType     string // ssh-ed25519, ecdsa-sha2-nistp256, ...
	Fingerprint string // SHA256:..., as ssh-keygen -l prints it
	KnownHosts  string // file checked
	Changed     bool   // known_hosts (or, on reconnecting, the first connection) has another key for the host
	KnownLine   int    // line of that other key in known_hosts; 0 on reconnecting
	wantTypes   []string
}

func (e *HostKeyError) Error() string {
	accept := fmt.Sprintf("check it out of band (on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then trust it with --accept-host-key %s (or %s=%s)",
		e.Fingerprint, EnvAcceptHostKey, e.Fingerprint)
	if e.Changed && e.KnownLine == 0 {
		return fmt.Sprintf("%s: on reconnecting, the host %s presented %s key %s, not the key it had at the start of this run: this may be a man-in-the-middle attack; refusing it",
			ErrHostKeyChanged, e.Host, e.KeyType, e.Fingerprint)
	}
	if e.Changed {
		return fmt.Sprintf("%s: the host %s presented %s key %s, but %s line %d has another key for it: this may be a man-in-the-middle attack, or a reinstalled or rescue system; %s",
			ErrHostKeyChanged, e.Host, e.KeyType, e.Fingerprint, e.KnownHosts, e.KnownLine, accept)
	}
	return fmt.Sprintf("%s: the host %s presented %s key %s, which %s does not list; %s",
		ErrHostKeyUnknown, e.Host, e.KeyType, e.Fingerprint, e.KnownHosts, accept)
}

func (e *HostKeyError) Unwrap() error {
	if e.Changed {
		return ErrHostKeyChanged
	}
	return ErrHostKeyUnknown
}

func homeFile(parts ...string) string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(append([]string{home}, parts...)...)
}

// sshDialer dials one SSH target, again and again if the link drops: it
// keeps the host key it first trusted and the password it was given.
type sshDialer struct {
	t    Target
	opts *Options

	mu       sync.Mutex
	pinned   ssh.PublicKey // host key of the first connection; later ones must match
	password *string
	algos    []string // host key algorithms to ask for (known_hosts key types)
}

// hostKeyCallback checks known_hosts, then the explicitly accepted
// fingerprint.
func (d *sshDialer) hostKeyCallback() (ssh.HostKeyCallback, error) {
	path := d.opts.KnownHosts
	if path == "" {
		path = homeFile(".ssh", "known_hosts")
	}
	var kh ssh.HostKeyCallback
	if _, err := os.Stat(path); err == nil {
		if kh, err = knownhosts.New(path); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		d.mu.Lock()
		pinned := d.pinned
		d.mu.Unlock()
		fp := ssh.FingerprintSHA256(key)
		if pinned != nil {
			if ssh.FingerprintSHA256(pinned) == fp {
				return nil
			}
			return &HostKeyError{Host: d.t.Host, KeyType: key.Type(), Fingerprint: fp, Changed: true}
		}
		e := &HostKeyError{Host: d.t.Host, KeyType: key.Type(), Fingerprint: fp, KnownHosts: path}
		if kh != nil {
			err := kh(hostname, remote, key)
			if err == nil {
				return nil
			}
			var ke *knownhosts.KeyError
			if !errors.As(err, &ke) {
				return err // a revoked key
			}
			if len(ke.Want) > 0 {
				e.Changed, e.KnownLine = true, ke.Want[0].Line
				for _, w := range ke.Want {
					e.wantTypes = append(e.wantTypes, w.Key.Type())
				}
			}
		}
		if d.opts.AcceptHostKey != "" && strings.TrimSpace(d.opts.AcceptHostKey) == fp {
			return nil
		}
		return e
	}, nil
}

// algorithmsFor lists the host key algorithms that give keys of types.
func algorithmsFor(types []string) []string {
	var out []string
	for _, t := range types {
		if t == ssh.KeyAlgoRSA {
			out = append(out, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		}
		out = append(out, t)
	}
	return out
}

// dial opens an authenticated SSH connection. Network failures wrap
// errLinkLost (worth retrying); host key and authentication failures do not.
func (d *sshDialer) dial() (*ssh.Client, error) {
	cb, err := d.hostKeyCallback()
	if err != nil {
		return nil, err
	}
	client, err := d.dialWith(cb)
	var he *HostKeyError
	if errors.As(err, &he) && he.Changed && len(he.wantTypes) > 0 && !contains(he.wantTypes, he.KeyType) {
		// The server offered another key type first than the one known_hosts
		// holds: ask for the known type, as OpenSSH's client does.
		d.mu.Lock()
		d.algos = algorithmsFor(he.wantTypes)
		d.mu.Unlock()
		client, err = d.dialWith(cb)
	}
	return client, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *sshDialer) dialWith(cb ssh.HostKeyCallback) (*ssh.Client, error) {
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	d.mu.Lock()
	algos := d.algos
	d.mu.Unlock()
	var presented ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: d.t.User,
		HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error {
			err := cb(h, r, k)
			if err == nil {
				presented = k
			}
			return err
		},
		HostKeyAlgorithms: algos,
		Timeout:           d.opts.DialTimeout,
	}
	cfg.Auth, closers = d.authMethods()
	conn, err := net.DialTimeout("tcp", d.t.Host, d.opts.DialTimeout)
	if err != nil {
		return nil, linkLost(err)
	}
	conn.SetDeadline(time.Now().Add(d.opts.DialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, d.t.Host, cfg)
	if err != nil {
		conn.Close()
		var he *HostKeyError
		switch {
		case errors.As(err, &he):
			return nil, he
		case errors.Is(err, errNoSecret):
			return nil, fmt.Errorf("%w as %q on %s: %w", ErrAuth, d.t.User, d.t.Host, err)
		// x/crypto/ssh gives no type for this one; its message is stable.
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("%w as %q on %s: the server accepted none of the methods tried (ssh-agent, identity files, password); %v",
				ErrAuth, d.t.User, d.t.Host, err)
		}
		return nil, linkLost(fmt.Errorf("ssh handshake with %s: %w", d.t.Host, err))
	}
	conn.SetDeadline(time.Time{})
	d.mu.Lock()
	if d.pinned == nil {
		d.pinned = presented
	}
	d.mu.Unlock()
	return ssh.NewClient(c, chans, reqs), nil
}

// authMethods: ssh-agent, identity files, then password (also asked for by
// keyboard-interactive). The returned closers end the agent connection.
func (d *sshDialer) authMethods() ([]ssh.AuthMethod, []func()) {
	var methods []ssh.AuthMethod
	var closers []func()
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" && !d.opts.NoAgent {
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			closers = append(closers, func() { c.Close() })
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
		}
	}
	if signers := d.identitySigners(); len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	methods = append(methods,
		ssh.PasswordCallback(d.getPassword),
		ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range questions {
				if echos[i] {
					continue // not a secret: not the password either
				}
				pw, err := d.getPassword()
				if err != nil {
					return nil, err
				}
				answers[i] = pw
			}
			return answers, nil
		}))
	return methods, closers
}

func (d *sshDialer) identitySigners() []ssh.Signer {
	paths := d.opts.Identities
	if len(paths) == 0 {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			paths = append(paths, homeFile(".ssh", n))
		}
	}
	var signers []ssh.Signer
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			pass, perr := promptTerminal(fmt.Sprintf("Passphrase for %s: ", p))
			if perr != nil {
				continue
			}
			s, err = ssh.ParsePrivateKeyWithPassphrase(b, []byte(pass))
		}
		if err == nil {
			signers = append(signers, s)
		}
	}
	return signers
}

// getPassword asks once per run and keeps the answer for reconnections.
func (d *sshDialer) getPassword() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.password != nil {
		return *d.password, nil
	}
	var pw string
	var err error
	if d.opts.Password != nil {
		if pw, err = d.opts.Password(d.t.User, d.t.Host); err != nil {
			err = fmt.Errorf("%w: %v", errNoSecret, err)
		}
	} else {
		pw, err = promptTerminal(fmt.Sprintf("%s@%s's password: ", d.t.User, d.t.Host))
	}
	if err != nil {
		return "", err
	}
	d.password = &pw
	return pw, nil
}

// promptTerminal reads a secret from the controlling terminal, without
// echo. Without a terminal there is nobody to ask.
func promptTerminal(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("%w (set %s, or use ssh-agent or an identity file): %v", errNoSecret, EnvPassword, err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return string(b), err
}

// keepalive closes c when the server stops answering keepalive requests,
// so that pending reads fail and are retried on a new connection instead
// of waiting forever.
func keepalive(c *ssh.Client, every time.Duration, done <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case <-done:
			return
		case err := <-reply:
			if err != nil {
				c.Close()
				return
			}
		case <-time.After(2 * every):
			c.Close()
			return
		}
	}
}

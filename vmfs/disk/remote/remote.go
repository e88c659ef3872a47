package remote

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrLinkDown: the connection dropped and could not be re-established
// within Options.RetryFor.
var ErrLinkDown = errors.New("remote link down")

// ErrBadURL: a SOURCE with a scheme this package does not read, or a
// malformed ssh:// or nbd:// URL.
var ErrBadURL = errors.New("bad remote SOURCE")

// Environment variables that configure remote sources. The command line
// maps its flags onto them, so that every command reads remote sources
// the same way.
const (
	EnvAcceptHostKey = "VMFSRECOVER_SSH_ACCEPT_HOST_KEY" // SHA256:... fingerprint to trust although unknown or changed
	EnvKnownHosts    = "VMFSRECOVER_SSH_KNOWN_HOSTS"     // known_hosts file (default ~/.ssh/known_hosts)
	EnvIdentity      = "VMFSRECOVER_SSH_IDENTITY"        // private key file (default ~/.ssh/id_ed25519, id_ecdsa, id_rsa)
	EnvPassword      = "VMFSRECOVER_SSH_PASSWORD"        // password, instead of a prompt
	EnvRetryFor      = "VMFSRECOVER_RETRY_FOR"           // how long to retry a dropped link (Go duration, default 2m)
	EnvNBDCA         = "VMFSRECOVER_NBD_CA"              // nbds://: PEM file of the CA that signed the server's certificate (default: the system's)
	EnvNBDCert       = "VMFSRECOVER_NBD_CERT"            // nbds://: PEM client certificate, for servers that verify peers
	EnvNBDKey        = "VMFSRECOVER_NBD_KEY"             // nbds://: its private key
)

// Options tune remote sources. The zero value is usable; OptionsFromEnv
// fills it from the environment.
type Options struct {
	// KnownHosts is the known_hosts file checked for SSH host keys
	// (default ~/.ssh/known_hosts; a missing file knows no host).
	KnownHosts string
	// AcceptHostKey is a host key fingerprint ("SHA256:...", as ssh-keygen
	// -l prints it) to trust although known_hosts does not list it, or lists
	// another key for the host.
	AcceptHostKey string
	// Identities are private key files tried in order; missing ones are
	// skipped. Default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
	Identities []string
	// Agent uses the ssh-agent at SSH_AUTH_SOCK (default true when set).
	NoAgent bool
	// Password returns the password when the server asks for one; nil asks
	// on the terminal when there is one, or does without.
	Password func(user, host string) (string, error)

	// NBDCA is a PEM file of the CA(s) an nbds:// server's certificate
	// must chain to (default: the system's roots); NBDCert and NBDKey a
	// client certificate for servers that verify their peers.
	NBDCA, NBDCert, NBDKey string

	// DialTimeout bounds connecting and handshaking (default 15s);
	// IOTimeout is how long a pending read may wait for data before the
	// link counts as dropped (default 30s).
	DialTimeout, IOTimeout time.Duration
	// RetryFor is how long a dropped link is re-dialled before reads fail
	// with ErrLinkDown (default 2m). After that the link counts as down:
	// reads fail at once, and one of them re-dials every RetryFor/4 (at
	// most 10s) in case it came back.
	RetryFor time.Duration

	// ChunkSize is the unit of caching and read-ahead (default 128 KiB:
	// a scattered small read, such as a probe every 1 MiB, costs one chunk);
	// ReadAhead the most chunks fetched ahead of a sequential reader
	// (default 256, so 32 MiB in flight: what a 50 ms link carries at 5
	// Gbit/s); CacheSize the bytes of chunks kept per connection (default
	// 128 MiB).
	ChunkSize, ReadAhead int
	CacheSize            int64
	// SFTPPacket is the largest SFTP read request (default 255 KiB for
	// OpenSSH servers, which shorten longer reads, else 32 KiB, which
	// every server must take).
	SFTPPacket int
	// SFTPSessions is the most SFTP sessions one SSH connection carries,
	// reads going to each in turn (default 8). One session moves at most
	// its SSH channel window, 2 MiB, per round trip: 40 MB/s over a 50 ms
	// link, whatever its bandwidth. DialSSH opens one per 2 ms of round
	// trip it measures, so a LAN or loopback link gets one.
	SFTPSessions int
}

// OptionsFromEnv reads the VMFSRECOVER_SSH_* and VMFSRECOVER_RETRY_FOR
// variables.
func OptionsFromEnv() (Options, error) {
	o := Options{
		KnownHosts:    os.Getenv(EnvKnownHosts),
		AcceptHostKey: os.Getenv(EnvAcceptHostKey),
		NBDCA:         os.Getenv(EnvNBDCA),
		NBDCert:       os.Getenv(EnvNBDCert),
		NBDKey:        os.Getenv(EnvNBDKey),
	}
	if id := os.Getenv(EnvIdentity); id != "" {
		o.Identities = []string{id}
	}
	if pw, ok := os.LookupEnv(EnvPassword); ok {
		o.Password = func(string, string) (string, error) { return pw, nil }
	}
	if s := os.Getenv(EnvRetryFor); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return o, fmt.Errorf("%s=%q: want a duration such as 30s or 5m", EnvRetryFor, s)
		}
		o.RetryFor = d
	}
	return o, nil
}

func (o *Options) defaults() {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 15 * time.Second
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 30 * time.Second
	}
	if o.RetryFor == 0 {
		o.RetryFor = 2 * time.Minute
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 128 << 10
	}
	if o.ReadAhead <= 0 {
		o.ReadAhead = 256
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 128 << 20
	}
	if o.SFTPSessions <= 0 {
		o.SFTPSessions = 8
	}
}

// IsRemote says whether spec names a remote source (has a scheme).
func IsRemote(spec string) bool { return strings.Contains(spec, "://") }

// Target is a parsed remote SOURCE.
type Target struct {
	Scheme string // "ssh" or "nbd"
	User   string // ssh only
	Host   string // host:port, port defaulted
	Path   string // ssh: absolute path on the host; nbd: export name ("" is the default export)
	TLS    bool   // nbds://: NBD over TLS (NBD_OPT_STARTTLS)
}

// String shows the target without any password a URL might carry.
func (t Target) String() string {
	if t.Scheme == "ssh" {
		return "ssh://" + t.User + "@" + t.Host + t.Path
	}
	if t.TLS {
		return "nbds://" + t.Host + "/" + t.Path
	}
	return "nbd://" + t.Host + "/" + t.Path
}

// ParseTarget parses ssh://[user@]host[:port]/path and
// nbd://host[:port][/export] (nbds:// for NBD over TLS). A password in
// the URL is refused:
// credentials never go on the command line.
func ParseTarget(spec string) (Target, error) {
	u, err := url.Parse(spec)
	if err != nil {
		// url.Parse echoes the input; keep a password out of the message.
		return Target{}, fmt.Errorf("%w: %q does not parse as a URL", ErrBadURL, redact(spec))
	}
	t := Target{Scheme: strings.ToLower(u.Scheme)}
	if _, has := u.User.Password(); has {
		return t, fmt.Errorf("%w: %s: a password in the URL is not accepted (it would show in process lists and shell history); use %s or the prompt", ErrBadURL, redact(spec), EnvPassword)
	}
	if u.Hostname() == "" {
		return t, fmt.Errorf("%w: %s: no host", ErrBadURL, spec)
	}
	port := u.Port()
	switch t.Scheme {
	case "ssh", "sftp":
		t.Scheme = "ssh"
		if port == "" {
			port = "22"
		}
		t.User = u.User.Username()
		if t.User == "" {
			t.User = os.Getenv("USER")
		}
		if t.User == "" {
			return t, fmt.Errorf("%w: %s: no user (ssh://user@host/path)", ErrBadURL, spec)
		}
		t.Path = u.Path
		if t.Path == "" || t.Path == "/" {
			return t, fmt.Errorf("%w: %s: no path (ssh://user@host/dev/sdb or /path/to/disk.vmdk)", ErrBadURL, spec)
		}
	case "nbd", "nbds":
		t.TLS = t.Scheme == "nbds"
		t.Scheme = "nbd"
		if port == "" {
			port = "10809"
		}
		t.Path = strings.TrimPrefix(u.Path, "/")
		if u.User != nil {
			return t, fmt.Errorf("%w: %s: NBD has no users", ErrBadURL, spec)
		}
	default:
		return t, fmt.Errorf("%w: %s: unknown scheme %q (ssh://, nbd:// or nbds://)", ErrBadURL, spec, u.Scheme)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return t, fmt.Errorf("%w: %s: port %q", ErrBadURL, spec, port)
	}
	t.Host = net.JoinHostPort(u.Hostname(), port)
	return t, nil
}

func redact(spec string) string {
	at := strings.LastIndex(spec, "@")
	sch := strings.Index(spec, "://")
	if at < 0 || sch < 0 || at < sch {
		return spec
	}
	userinfo := spec[sch+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return spec[:sch+3] + userinfo[:i] + ":***" + spec[at:]
	}
	return spec
}

// linkState remembers a link declared down, so that once one read has
// waited RetryFor in vain the next ones fail at once (an export with
// thousands of files must not wait RetryFor for each), while a re-dial is
// still tried now and then in case the link came back.
type linkState struct {
	mu        sync.Mutex
	downSince time.Time // zero while up
	lastProbe time.Time
}

// probeEvery is how often a read on a down link tries to re-dial.
func (o *Options) probeEvery() time.Duration {
	return min(10*time.Second, max(o.RetryFor/4, 100*time.Millisecond))
}

// retry runs op; while op fails with errLinkLost it re-dials with
// exponential backoff (100ms doubling to 5s) until RetryFor has passed.
// what names the read for the final error (formatted only then: a
// scan makes thousands of reads a second).
func retry(o *Options, st *linkState, closed func() bool, what func() string, op func() error, redial func() error) error {
	err := op()
	if err == nil || !errors.Is(err, errLinkLost) {
		if err == nil {
			st.mu.Lock()
			st.downSince = time.Time{}
			st.mu.Unlock()
		}
		return err
	}
	st.mu.Lock()
	down, since := !st.downSince.IsZero(), st.downSince
	probe := down && time.Since(st.lastProbe) >= o.probeEvery()
	if probe {
		st.lastProbe = time.Now()
	}
	st.mu.Unlock()
	if down {
		if probe && redial() == nil {
			if err = op(); err == nil {
				st.mu.Lock()
				st.downSince = time.Time{}
				st.mu.Unlock()
				return nil
			}
		}
		return fmt.Errorf("%w: %s: the link has been down since %s; last error: %v",
			ErrLinkDown, what(), since.Format(time.TimeOnly), err)
	}
	start := time.Now()
	delay := 100 * time.Millisecond
	attempts := 0
	for {
		if closed() {
			return fmt.Errorf("%s: %w", what(), os.ErrClosed)
		}
		if time.Since(start) >= o.RetryFor {
			st.mu.Lock()
			if st.downSince.IsZero() {
				st.downSince, st.lastProbe = start, time.Now()
			}
			st.mu.Unlock()
			return fmt.Errorf("%w: %s: the connection dropped and %d attempts to re-establish it over %s failed; last error: %v",
				ErrLinkDown, what(), attempts, time.Since(start).Round(time.Millisecond), err)
		}
		attempts++
		if rerr := redial(); rerr != nil {
			if !errors.Is(rerr, errLinkLost) {
				return fmt.Errorf("%s: reconnecting: %w", what(), rerr)
			}
			err = rerr
		} else if err = op(); err == nil || !errors.Is(err, errLinkLost) {
			return err
		}
		time.Sleep(min(delay, max(0, o.RetryFor-time.Since(start))))
		delay = min(2*delay, 5*time.Second)
	}
}

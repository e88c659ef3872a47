package session

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
)

// DestinationOptions are what a destination needs beyond its URL. The
// JSON form is how the wizard saves them; the password never is.
type DestinationOptions struct {
	// ImplicitTLS speaks TLS from the first byte (ftps:// servers on port
	// 990) instead of AUTH TLS.
	ImplicitTLS bool `json:"implicit_tls,omitempty"`
	// CAFile is a PEM file of certificate authorities trusted for ftps://
	// in addition to the system's.
	CAFile string `json:"ca_file,omitempty"`
	// InsecureTLS accepts any ftps:// server certificate: the link is
	// encrypted but not authenticated.
	InsecureTLS bool `json:"insecure_skip_verify,omitempty"`
	// Timeout gives up an FTP connection that is silent this long; 0
	// means the export package's default.
	Timeout time.Duration `json:"-"`
	// NoSync skips the fsync of each local file before its rename.
	NoSync bool `json:"-"`
}

// ErrBadDestination: the destination or its options cannot be used as
// written (a usage error, not a failure of the destination).
var ErrBadDestination = errors.New("bad destination")

// badDestination marks err as ErrBadDestination without changing its
// message.
type badDestination struct{ err error }

func (e *badDestination) Error() string   { return e.err.Error() }
func (e *badDestination) Unwrap() []error { return []error{ErrBadDestination, e.err} }

// IsURL reports whether a destination is a URL rather than a local folder.
func IsURL(to string) bool { return strings.Contains(to, "://") }

// OpenDestination turns a destination into an export.Destination: a local
// folder (made absolute, "~/" expanded; it must be a folder or not exist
// yet, and is created only by Export), or an ftp:// or ftps:// URL with the
// options and its password from pw (see export.ResolvePassword) unless
// password is not empty.
func OpenDestination(to string, o DestinationOptions, password string, pw export.PasswordSources) (export.Destination, error) {
	if !IsURL(to) {
		dir, err := LocalDir(to)
		if err != nil {
			return nil, err
		}
		return &export.Local{Dir: dir, NoSync: o.NoSync}, nil
	}
	d, err := export.ParseFTPURL(to)
	if err != nil {
		return nil, &badDestination{err}
	}
	if o.ImplicitTLS {
		if d.TLS == nil {
			return nil, &badDestination{errors.New("--implicit-tls needs an ftps:// URL")}
		}
		d.Implicit = true
	}
	if d.TLS != nil {
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, err
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", o.CAFile)
			}
			d.TLS.RootCAs = pool
		}
		d.TLS.InsecureSkipVerify = o.InsecureTLS
	}
	d.IOTimeout = o.Timeout
	d.DialTimeout = o.Timeout
	if password != "" {
		d.SetPassword(password)
		return d, nil
	}
	if err := export.ResolvePassword(d, pw); err != nil {
		return nil, err
	}
	return d, nil
}

// LocalDir makes a local destination folder absolute, expanding a leading
// "~" to the home folder, and checks that it is a folder or can become one:
// the path itself, or its nearest existing parent, must be a folder. It
// creates nothing.
func LocalDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no destination folder given")
	}
	dir, err := ExpandHome(dir)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return abs, nil
		case err == nil && p == abs:
			return "", fmt.Errorf("destination %s exists and is not a folder", abs)
		case err == nil:
			return "", fmt.Errorf("destination %s cannot be created: %s is not a folder", abs, p)
		case !errors.Is(err, os.ErrNotExist):
			return "", fmt.Errorf("destination %s: %w", abs, err)
		}
		if filepath.Dir(p) == p {
			return "", fmt.Errorf("destination %s: no existing parent folder", abs)
		}
	}
}

// ExpandHome turns "~" and "~/dir" into the home folder and a path in it;
// other paths ("~user/x", "a/~") are left as they are.
func ExpandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

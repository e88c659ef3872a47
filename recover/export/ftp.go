package export

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/textproto"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"
)

// FTPPasswordEnv is the environment variable the FTP password is taken
// from; it is never accepted on the command line.
const FTPPasswordEnv = "VMFSRECOVER_FTP_PASSWORD"

// FTP is an FTP or FTPS server. The zero timeouts mean 30 s.
type FTP struct {
	Host     string // host:port
	User     string // "anonymous" when empty
	password string
	// Dir is the base directory, "/"-separated; as in RFC 1738 FTP URLs it
	// is relative to the login directory unless it starts with "/"
	// (ftp://host/%2Fsrv/x).
	Dir string
	// TLS: nil for plain FTP; with Implicit false, explicit TLS (AUTH TLS,
	// ftps://), with Implicit true, TLS from the first byte (usually port
	// 990). Every connection gets its own copy of the config with its own
	// session cache: servers such as vsftpd and FileZilla Server refuse a
	// data connection that does not resume the control connection's
	// session.
	TLS      *tls.Config
	Implicit bool
	// DialTimeout bounds connecting and logging in; IOTimeout bounds every
	// read or write on the control and data connections, so a server that
	// stops answering fails the command instead of hanging it.
	DialTimeout time.Duration
	IOTimeout   time.Duration
	// Dial, when set, replaces net.Dialer (tests route through a proxy).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// ErrFTPURL reports a destination URL that cannot be used.
var ErrFTPURL = errors.New("bad FTP URL")

// ErrPasswordInURL refuses a password written in the URL, where it would
// end up in shell history and process listings.
var ErrPasswordInURL = errors.New("the FTP password must not be in the URL: set " + FTPPasswordEnv + ", use a netrc file, or type it at the prompt")

// ErrLogin reports that the server refused the user name or password.
var ErrLogin = errors.New("FTP login refused")

// ParseFTPURL reads ftp://user@host:port/dir or ftps://... (explicit TLS).
// The password is set separately with SetPassword; a URL holding one is
// refused without repeating it.
func ParseFTPURL(raw string) (*FTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a password: drop it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: %v", ErrFTPURL, err)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return nil, ErrPasswordInURL
		}
	}
	d := &FTP{Dir: strings.TrimPrefix(u.Path, "/")}
	port := "21"
	switch u.Scheme {
	case "ftp":
	case "ftps":
		// TLS 1.2 at most: under TLS 1.3 the server's session tickets
		// arrive after the handshake, an uploading client never reads
		// them, and closing the data connection with them unread resets
		// it; vsftpd then loses the tail of the upload ("426 Failure
		// reading network stream"). In TLS 1.2 tickets come inside the
		// handshake.
		d.TLS = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}
	default:
		return nil, fmt.Errorf("%w: scheme %q, want ftp or ftps", ErrFTPURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host", ErrFTPURL)
	}
	if u.Port() != "" {
		if _, err := strconv.ParseUint(u.Port(), 10, 16); err != nil {
			return nil, fmt.Errorf("%w: port %q", ErrFTPURL, u.Port())
		}
		port = u.Port()
	}
	d.Host = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		d.User = u.User.Username()
	}
	if strings.ContainsAny(d.Dir, "\r\n\x00") {
		return nil, fmt.Errorf("%w: control characters in the path", ErrFTPURL)
	}
	return d, nil
}

// SetPassword sets the password used at login.
func (d *FTP) SetPassword(p string) { d.password = p }

// String is the URL without any password.
func (d *FTP) String() string {
	scheme := "ftp"
	if d.TLS != nil {
		scheme = "ftps"
		if d.Implicit {
			scheme = "ftps(implicit)"
		}
	}
	u := url.URL{Scheme: scheme, Host: d.Host, Path: "/" + d.Dir}
	if d.User != "" {
		u.User = url.User(d.User)
	}
	return u.String()
}

func (d *FTP) timeouts() (dial, io time.Duration) {
	dial, io = d.DialTimeout, d.IOTimeout
	if dial == 0 {
		dial = 30 * time.Second
	}
	if io == 0 {
		io = 30 * time.Second
	}
	return dial, io
}

// Connect dials, logs in and switches to binary mode.
func (d *FTP) Connect(ctx context.Context) (Conn, error) {
	dialTimeout, ioTimeout := d.timeouts()
	c := &ftpConn{d: d, ioTimeout: ioTimeout}
	var tlsConf *tls.Config
	if d.TLS != nil {
		tlsConf = d.TLS.Clone()
		tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	dialCtx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	first := true
	// jlaffaye/ftp uses the dial function for the control connection and
	// every data connection; it leaves TLS of both to it.
	dial := func(network, addr string) (net.Conn, error) {
		var nc net.Conn
		var err error
		dctx := ctx
		if first {
			dctx = dialCtx
		}
		if d.Dial != nil {
			nc, err = d.Dial(dctx, network, addr)
		} else {
			var nd net.Dialer
			nd.Timeout = dialTimeout
			nc, err = nd.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		nc = c.track(&deadlineConn{Conn: nc, timeout: ioTimeout})
		control := first
		first = false
		if tlsConf != nil && d.Implicit && control {
			nc = tls.Client(nc, tlsConf)
		} else if tlsConf != nil && !control {
			nc = tls.Client(nc, tlsConf)
		}
		return nc, nil
	}
	opts := []ftp.DialOption{
		ftp.DialWithDialFunc(dial),
		ftp.DialWithShutTimeout(ioTimeout),
		ftp.DialWithWritingMDTM(true), // vsftpd sets times with MDTM, not MFMT
	}
	if tlsConf != nil {
		if d.Implicit {
			opts = append(opts, ftp.DialWithTLS(tlsConf))
		} else {
			opts = append(opts, ftp.DialWithExplicitTLS(tlsConf))
		}
	}
	stop := context.AfterFunc(ctx, c.abort)
	sc, err := ftp.Dial(d.Host, opts...)
	if err != nil {
		stop()
		c.abort()
		return nil, transient(fmt.Errorf("connecting to %s: %w", d, err))
	}
	c.sc, c.stop = sc, stop
	user, pass := d.User, d.password
	if user == "" || user == "anonymous" || user == "ftp" {
		if user == "" {
			user = "anonymous"
		}
		if pass == "" {
			pass = "vmfsrecover@"
		}
	}
	if err := sc.Login(user, pass); err != nil {
		c.Close()
		var te *textproto.Error
		if errors.As(err, &te) && te.Code == 530 {
			// The server's text can echo what was sent: leave it out.
			return nil, fmt.Errorf("%s: %w (530)", d, ErrLogin)
		}
		return nil, transient(fmt.Errorf("logging in to %s: %w", d, err))
	}
	return c, nil
}

type ftpConn struct {
	d         *FTP
	sc        *ftp.ServerConn
	ioTimeout time.Duration
	stop      func() bool

	mu    sync.Mutex
	conns []net.Conn // every connection opened, closed on abort
}

func (c *ftpConn) track(nc net.Conn) net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, nc)
	return nc
}

// abort closes every network connection, which unblocks any command in
// flight: it is how a cancelled context stops a transfer.
func (c *ftpConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.conns {
		nc.Close()
	}
	c.conns = nil
}

func (c *ftpConn) path(name string) string {
	if c.d.Dir == "" {
		return name
	}
	return path.Join(c.d.Dir, name)
}

// wrap classifies a server reply or network error.
func (c *ftpConn) wrap(ctx context.Context, op, name string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err = fmt.Errorf("FTP %s %s: %w", op, name, err)
	var te *textproto.Error
	if errors.As(err, &te) {
		switch {
		case te.Code == 550 && (op == "SIZE" || op == "RETR"):
			return fmt.Errorf("%w (%w)", err, fs.ErrNotExist)
		case te.Code == 552 || te.Code == 452:
			// Exceeded storage allocation / insufficient storage.
			return &fatalError{err}
		case te.Code == 550 && op == "STOR":
			// Permission denied: the next file fares no better.
			return &fatalError{err}
		case te.Code == 421:
			return transient(err)
		case te.Code >= 400 && te.Code < 500:
			return transient(err)
		}
		return err
	}
	// Anything else is the network: the connection is gone.
	return transient(err)
}

func transient(err error) error { return &transientError{err} }

func (c *ftpConn) MkdirAll(ctx context.Context, dir string) error {
	var p string
	full := path.Join(c.d.Dir, dir)
	if full == "." || full == "/" {
		return nil // the login directory, or the server's root
	}
	for _, part := range strings.Split(full, "/") {
		if p == "" && part == "" {
			p = "/" // an absolute base
			continue
		}
		p = path.Join(p, part)
		if err := c.sc.MakeDir(p); err != nil {
			// It may exist already; a real failure shows on the upload.
			var te *textproto.Error
			if !errors.As(err, &te) {
				return c.wrap(ctx, "MKD", p, err)
			}
		}
	}
	return nil
}

func (c *ftpConn) Size(ctx context.Context, name string) (int64, error) {
	n, err := c.sc.FileSize(c.path(name))
	if err != nil {
		var te *textproto.Error
		// vsftpd answers a missing file with 550, goftp with 450; 550 also
		// comes for a directory or a link, which is not a regular file
		// either.
		if errors.As(err, &te) && (te.Code == 550 || te.Code == 450) {
			return 0, fmt.Errorf("FTP SIZE %s: %d %s: %w", name, te.Code, te.Msg, fs.ErrNotExist)
		}
		return 0, c.wrap(ctx, "SIZE", name, err)
	}
	return n, nil
}

// settleInterval is how long a partial file's size must stay the same
// before an upload continues it; tailCheck is how many of its last bytes
// are read back first.
const (
	settleInterval = 200 * time.Millisecond
	tailCheck      = 64 << 10
)

// ResumeOffset decides whether a partial upload can be continued. After a
// dropped link the size alone cannot be trusted: the server may still be
// writing what the dropped data connection carried, and some servers
// (goftp's file driver) write at the end of the file whatever REST said, so
// continuing from a size asked too early shifts the rest of the file. The
// size is therefore asked until it stays the same for settleInterval (at
// most the I/O timeout), and the last tailCheck bytes are read back and
// compared with the source; a tail that differs starts the file over.
func (c *ftpConn) ResumeOffset(ctx context.Context, name string, src io.ReaderAt, size int64) (keep, have int64, err error) {
	have, err = c.settledSize(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil || have > size || have == 0 {
		return 0, have, err
	}
	off := max(0, have-tailCheck)
	r, err := c.sc.RetrFrom(c.path(name), uint64(off))
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code <= 504 {
		return 0, have, nil // no REST for RETR: nothing can be checked
	}
	if err != nil {
		return 0, have, c.wrap(ctx, "RETR", name, err)
	}
	got, err := io.ReadAll(io.LimitReader(r, have-off+1))
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, have, c.wrap(ctx, "RETR", name, err)
	}
	want := make([]byte, have-off)
	if _, err := src.ReadAt(want, off); err != nil {
		return 0, have, err
	}
	if !bytes.Equal(got, want) {
		return 0, have, nil
	}
	return have, have, nil
}

// settledSize asks a file's size until two answers settleInterval apart
// agree, or the I/O timeout has passed.
func (c *ftpConn) settledSize(ctx context.Context, name string) (int64, error) {
	n, err := c.Size(ctx, name)
	for deadline := time.Now().Add(c.ioTimeout); err == nil && time.Now().Before(deadline); {
		select {
		case <-time.After(settleInterval):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		var m int64
		if m, err = c.Size(ctx, name); err == nil && m == n {
			return n, nil
		}
		n = m
	}
	return n, err
}

func (c *ftpConn) Write(ctx context.Context, name string, s *Stream) error {
	err := c.stor(ctx, name, s)
	var te *textproto.Error
	if s.From() > 0 && errors.As(err, &te) && te.Code >= 500 && te.Code <= 504 {
		// The server does not know REST (500-504: unknown command, bad
		// parameter, not implemented): start the file over.
		s.from = 0
		err = c.stor(ctx, name, s)
	}
	if err != nil && !isSourceError(err) {
		return c.wrap(ctx, "STOR", name, err)
	}
	return err
}

func isSourceError(err error) bool {
	var se *SourceError
	return errors.As(err, &se)
}

// stor runs one STOR (REST+STOR past From). jlaffaye/ftp copies with
// io.Copy, which hands the data connection to streamReader.WriteTo: the
// stream writes its 1 MiB chunks straight to the socket, with no pipe, no
// goroutine and no extra copy.
func (c *ftpConn) stor(ctx context.Context, name string, s *Stream) error {
	r := &streamReader{ctx: ctx, s: s}
	err := c.sc.StorFrom(c.path(name), r, uint64(s.From()))
	if r.err != nil && isSourceError(r.err) {
		// A source error wins over the network error it causes.
		return r.err
	}
	if err == nil && !r.done {
		err = errors.New("upload ended before the stream was sent")
	}
	return err
}

type streamReader struct {
	ctx  context.Context
	s    *Stream
	err  error
	done bool
}

func (r *streamReader) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	r.err = r.s.WriteTo(r.ctx, cw)
	r.done = r.err == nil
	return cw.n, r.err
}

// Read is never called: io.Copy prefers WriteTo.
func (r *streamReader) Read([]byte) (int, error) {
	return 0, errors.New("export: stream read without WriteTo")
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Settle: an FTP server writes its files as it sees fit; the protocol has
// no call to make them durable.
func (c *ftpConn) Settle(ctx context.Context) error { return nil }

func (c *ftpConn) Rename(ctx context.Context, from, to string) error {
	return c.wrap(ctx, "RNFR/RNTO", from, c.sc.Rename(c.path(from), c.path(to)))
}

func (c *ftpConn) Remove(ctx context.Context, name string) error {
	return c.wrap(ctx, "DELE", name, c.sc.Delete(c.path(name)))
}

func (c *ftpConn) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := c.sc.Retr(c.path(name))
	if err != nil {
		return nil, c.wrap(ctx, "RETR", name, err)
	}
	return r, nil
}

func (c *ftpConn) Symlink(ctx context.Context, target, name string) error {
	return errors.ErrUnsupported
}

func (c *ftpConn) SetModTime(ctx context.Context, name string, t time.Time) error {
	if !c.sc.IsSetTimeSupported() {
		return errors.ErrUnsupported
	}
	return c.wrap(ctx, "MFMT", name, c.sc.SetTime(c.path(name), t))
}

func (c *ftpConn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	var err error
	if c.sc != nil {
		// QUIT politely, but not for longer than the I/O timeout.
		err = c.sc.Quit()
	}
	c.abort()
	return err
}

// deadlineConn pushes the deadline forward before every read and write, so
// that a stalled server fails a command after the I/O timeout.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}

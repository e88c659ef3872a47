package export

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ftpserver "goftp.io/server/v2"
	"goftp.io/server/v2/driver/file"
)

// The unit tests run against goftp.io/server/v2, an FTP server written in
// Go (maintained by the Gitea project, the one Gitea's own tests use), with
// its plain file driver: a real server speaking the protocol over loopback
// TCP, started and stopped inside the test.

const (
	testFTPUser = "recover"
	testFTPPass = "s3cret-Pa55"
)

// testDriver wraps the file driver to refuse uploads, or to write them
// slowly, on demand.
type testDriver struct {
	ftpserver.Driver
	refuse atomic.Bool
	// lag delays every read of an upload's data connection, so that after
	// a cut the server is still writing what the connection carried.
	lag atomic.Int64
}

func (d *testDriver) PutFile(ctx *ftpserver.Context, p string, r io.Reader, off int64) (int64, error) {
	if d.refuse.Load() {
		return 0, errors.New("writes disabled")
	}
	if lag := time.Duration(d.lag.Load()); lag > 0 {
		r = &laggingReader{r: r, lag: lag}
	}
	return d.Driver.PutFile(ctx, p, r, off)
}

type laggingReader struct {
	r   io.Reader
	lag time.Duration
}

func (l *laggingReader) Read(p []byte) (int, error) {
	time.Sleep(l.lag)
	return l.r.Read(p[:min(len(p), 16<<10)])
}

type goFTP struct {
	addr   string
	root   string
	driver *testDriver
	cert   *x509.Certificate
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startGoFTP starts an embedded server on loopback; tlsMode is "",
// "explicit" or "implicit"; commands named in without are unknown to it.
func startGoFTP(t *testing.T, tlsMode string, without ...string) *goFTP {
	t.Helper()
	root := t.TempDir()
	fd, err := file.NewDriver(root)
	if err != nil {
		t.Fatal(err)
	}
	g := &goFTP{root: root, driver: &testDriver{Driver: fd}}
	port := freePort(t)
	opts := &ftpserver.Options{
		Driver:       g.driver,
		Auth:         &ftpserver.SimpleAuth{Name: testFTPUser, Password: testFTPPass},
		Perm:         ftpserver.NewSimplePerm("root", "root"),
		Hostname:     "127.0.0.1",
		PublicIP:     "127.0.0.1",
		Port:         port,
		Logger:       &ftpserver.DiscardLogger{},
		PassivePorts: "",
	}
	if len(without) > 0 {
		opts.Commands = map[string]ftpserver.Command{}
		for k, v := range ftpserver.DefaultCommands() {
			opts.Commands[k] = v
		}
		for _, k := range without {
			delete(opts.Commands, k)
		}
	}
	if tlsMode != "" {
		cert, tc := selfSigned(t)
		g.cert = cert
		opts.TLS = true
		opts.TLSConfig = tc
		opts.ExplicitFTPS = tlsMode == "explicit"
	}
	srv, err := ftpserver.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.ListenAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	g.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", g.addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 500 { // 10 s: the machine may be busy
			t.Fatalf("FTP server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return g
}

// dest returns the server as a destination under directory dir.
func (g *goFTP) dest(t *testing.T, tlsMode string) *FTP {
	scheme := "ftp"
	if tlsMode != "" {
		scheme = "ftps"
	}
	d, err := ParseFTPURL(fmt.Sprintf("%s://%s@%s/", scheme, testFTPUser, g.addr))
	if err != nil {
		t.Fatal(err)
	}
	d.SetPassword(testFTPPass)
	d.DialTimeout, d.IOTimeout = 30*time.Second, 30*time.Second // generous: CI machines are loaded
	if g.cert != nil {
		pool := x509.NewCertPool()
		pool.AddCert(g.cert)
		d.TLS.RootCAs = pool
		d.Implicit = tlsMode == "implicit"
	}
	return d
}

func selfSigned(t testing.TB) (*x509.Certificate, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// cutProxy sits between client and FTP server. It rewrites EPSV replies so
// that data connections go through it too, and after budget bytes uploaded
// it cuts the data and control connections, as a dropped link would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	budget int64 // bytes until the next cut; < 0: no more cuts
	cuts   int   // cuts still to make after this one
	done   int   // cuts made
	open   []net.Conn
}

func startCutProxy(t *testing.T, target string, budget int64, cuts int) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, budget: budget, cuts: cuts - 1}
	t.Cleanup(func() { ln.Close(); p.cutAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.control(c)
		}
	}()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = append(p.open, cs...)
}

func (p *cutProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

func (p *cutProxy) cutsMade() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

func (p *cutProxy) control(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, server)
	go io.Copy(server, client)
	br := bufio.NewReader(server)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			client.Close()
			return
		}
		if strings.HasPrefix(line, "229 ") {
			i, j := strings.Index(line, "(|||"), strings.LastIndex(line, "|)")
			if i > 0 && j > i {
				port := line[i+4 : j]
				if nl, err := p.dataListener("127.0.0.1:" + port); err == nil {
					line = line[:i+4] + strconv.Itoa(nl) + line[j:]
				}
			}
		}
		if _, err := io.WriteString(client, line); err != nil {
			return
		}
	}
}

func (p *cutProxy) dataListener(target string) (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go func() {
		defer ln.Close()
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			return
		}
		p.track(client, server)
		go func() { io.Copy(client, server); client.Close() }()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				p.mu.Lock()
				allowed := int64(n)
				cut := false
				if p.budget >= 0 && int64(n) >= p.budget {
					allowed, cut = p.budget, true
				}
				if p.budget >= 0 {
					p.budget -= allowed
				}
				p.mu.Unlock()
				server.Write(buf[:allowed])
				if cut {
					p.mu.Lock()
					p.done++
					if p.cuts > 0 {
						p.cuts--
						p.budget = 3 * chunkSize / 2
					} else {
						p.budget = -1
					}
					p.mu.Unlock()
					p.cutAll()
					return
				}
			}
			if err != nil {
				server.Close()
				return
			}
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dialProxy routes a destination's connections through the proxy: the
// control connection to it, data connections as the rewritten replies say.
func withProxy(d *FTP, p *cutProxy) *FTP {
	d.Host = p.addr()
	return d
}

var _ = context.Background

// netListen accepts connections and never answers.
func netListen(t *testing.T) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln, nil
}

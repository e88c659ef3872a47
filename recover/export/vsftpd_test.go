package export

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// vsftpd is the integration server: the real daemon on loopback with a
// generated configuration and an anonymous writable directory.
type vsftpd struct {
	addr string
	pub  string // the writable directory, exported as /pub
	cert *x509.Certificate
}

type vsftpdOpts struct {
	maxClients int // 0: 50
	readOnly   bool
	tls        string // "", "explicit", "implicit"
}

func startVsftpd(t testing.TB, o vsftpdOpts) *vsftpd {
	t.Helper()
	bin := testenv.Tool(t, "vsftpd")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	pub := filepath.Join(root, "pub")
	empty := filepath.Join(dir, "empty")
	for _, d := range []string{pub, empty} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	maxClients := o.maxClients
	if maxClients == 0 {
		maxClients = 50
	}
	write := "YES"
	if o.readOnly {
		write = "NO"
	}
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=%s
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_root=%s
no_anon_password=YES
run_as_launching_user=YES
anon_umask=022
secure_chroot_dir=%s
pasv_enable=YES
pasv_address=127.0.0.1
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
xferlog_enable=NO
dirmessage_enable=NO
max_clients=%d
max_per_ip=%d
`, port, write, root, empty, maxClients, maxClients)
	v := &vsftpd{pub: pub, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	if o.tls != "" {
		cert, tc := selfSigned(t)
		v.cert = cert
		keyDER, err := x509.MarshalPKCS8PrivateKey(tc.Certificates[0].PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		pemFile := filepath.Join(dir, "cert.pem")
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
		if err := os.WriteFile(pemFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// require_ssl_reuse (the default) makes vsftpd refuse a data
		// connection that does not resume the control session.
		conf += fmt.Sprintf("ssl_enable=YES\nallow_anon_ssl=YES\nforce_anon_logins_ssl=YES\nforce_anon_data_ssl=YES\nrsa_cert_file=%s\nrsa_private_key_file=%s\nrequire_ssl_reuse=YES\nssl_ciphers=HIGH\n", pemFile, pemFile)
		if o.tls == "implicit" {
			conf += "implicit_ssl=YES\n"
		}
	}
	cf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	runServer(t, v.addr, bin, cf)
	return v
}

func (v *vsftpd) dest(t *testing.T, tlsMode string) *FTP {
	scheme := "ftp"
	if tlsMode != "" {
		scheme = "ftps"
	}
	d, err := ParseFTPURL(scheme + "://" + v.addr + "/pub")
	if err != nil {
		t.Fatal(err)
	}
	d.DialTimeout, d.IOTimeout = 5*time.Second, 10*time.Second
	if v.cert != nil {
		pool := x509.NewCertPool()
		pool.AddCert(v.cert)
		d.TLS.RootCAs = pool
		d.Implicit = tlsMode == "implicit"
	}
	return d
}

func vsftpdHarness(tlsMode string) func(t *testing.T) *harness {
	return func(t *testing.T) *harness {
		v := startVsftpd(t, vsftpdOpts{tls: tlsMode})
		d := v.dest(t, tlsMode)
		return &harness{dest: d, mtime: func(t *testing.T, name string) (time.Time, bool) {
			fi, err := os.Stat(filepath.Join(v.pub, name))
			if err != nil {
				t.Fatal(err)
			}
			return fi.ModTime().UTC(), true
		}, at: func(t *testing.T, dir string) Destination {
			d := v.dest(t, tlsMode)
			d.Dir = path.Join(d.Dir, dir)
			return d
		}}
	}
}

func TestVsftpdConformance(t *testing.T) { runConformance(t, vsftpdHarness("")) }

func TestVsftpdExplicitTLS(t *testing.T) {
	h := vsftpdHarness("explicit")(t)
	testTree(t, h)
	testParallel(t, h)
}

func TestVsftpdImplicitTLS(t *testing.T) { testTree(t, vsftpdHarness("implicit")(t)) }

// TestVsftpdNoSessionCacheRefused shows why every connection needs a TLS
// session cache: without one, vsftpd refuses the data connection.
func TestVsftpdNoSessionReuseRefused(t *testing.T) {
	v := startVsftpd(t, vsftpdOpts{tls: "explicit"})
	d := v.dest(t, "explicit")
	d.TLS.SessionTicketsDisabled = true // no session can be resumed
	fsys := newTestFS()
	fsys.file("a", []byte("abc"))
	rep, _ := Export(context.Background(), fsys, nil, d, Options{Retries: -1})
	if rep.Exported != 0 {
		t.Fatalf("export without TLS session reuse succeeded: %+v", rep.Entries)
	}
}

func TestVsftpdConnectionCut(t *testing.T) {
	v := startVsftpd(t, vsftpdOpts{})
	data := randBytes(21, 6*chunkSize+77)
	fsys := newTestFS()
	fsys.file("vm/disk-flat.vmdk", data)
	p := startCutProxy(t, v.addr, 3*chunkSize+999, 1)
	rep, err := Export(context.Background(), fsys, nil, withProxy(v.dest(t, ""), p), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	e := byDest(rep.Entries)["vm/disk-flat.vmdk"]
	if e.Status != StatusExported || e.Retries == 0 || p.cutsMade() != 1 {
		t.Fatalf("%+v, %d cuts", e, p.cutsMade())
	}
	got, err := os.ReadFile(filepath.Join(v.pub, "vm/disk-flat.vmdk"))
	if err != nil || sumHex(got) != sumHex(data) {
		t.Fatalf("uploaded file differs: %d bytes, %v", len(got), err)
	}
}

// TestVsftpdRefusesWrites: a read-only server (550) stops the export with
// ErrDestination and nothing is reported exported.
func TestVsftpdRefusesWrites(t *testing.T) {
	v := startVsftpd(t, vsftpdOpts{readOnly: true})
	fsys, _ := sampleTree()
	rep, err := Export(context.Background(), fsys, nil, v.dest(t, ""), testOpts())
	if !errors.Is(err, ErrDestination) {
		t.Fatalf("error %v, want ErrDestination", err)
	}
	if rep.Exported != 0 {
		t.Fatalf("%d reported exported", rep.Exported)
	}
	if rep.Manifest != "" || rep.ManifestError == nil {
		t.Fatalf("manifest %q reported written (%v) by a server that takes no file", rep.Manifest, rep.ManifestError)
	}
}

// TestVsftpdFewerConnections: a server that allows one connection while
// --jobs asks for four still gets every file, over the one it allows.
func TestVsftpdFewerConnections(t *testing.T) {
	v := startVsftpd(t, vsftpdOpts{maxClients: 1})
	fsys, want := sampleTree()
	opts := testOpts()
	opts.Workers = 4
	rep, err := Export(context.Background(), fsys, nil, v.dest(t, ""), opts)
	if err != nil || rep.Exported != len(want) || rep.Failed != 0 {
		t.Fatalf("%v %+v", err, rep.Entries)
	}
}

package wizard

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ftpserver "goftp.io/server/v2"
	"goftp.io/server/v2/driver/file"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

// startFTP runs goftp.io/server/v2, a real FTP server, on loopback with a
// folder as its root.
func startFTP(t *testing.T) (addr, root string) { return startFTPWith(t, nil) }

// startFTPWith starts the server with TLS from the first byte (implicit
// FTPS) when tc is not nil.
func startFTPWith(t *testing.T, tc *tls.Config) (addr, root string) {
	t.Helper()
	root = t.TempDir()
	drv, err := file.NewDriver(root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv, err := ftpserver.NewServer(&ftpserver.Options{
		Driver: drv, Auth: &ftpserver.SimpleAuth{Name: "wiz", Password: "pw-123"},
		Perm: ftpserver.NewSimplePerm("root", "root"), Hostname: "127.0.0.1", PublicIP: "127.0.0.1",
		Port: port, Logger: &ftpserver.DiscardLogger{}, TLS: tc != nil, TLSConfig: tc, ExplicitFTPS: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.ListenAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr, root
		}
		if i > 100 {
			t.Fatalf("FTP server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFTPDestination: the destination step tests the login, the plan has
// no free space figure, and the export goes to the server and verifies.
func TestFTPDestination(t *testing.T) {
	img, res := testVolume(t)
	addr, root := startFTP(t)
	w := walkTo(t, img, t.TempDir(), StepDestination, Options{})
	ctx := context.Background()
	d := Destination{Kind: DestFTP, URL: "ftp://wiz@" + addr + "/", Verify: true}
	w.SetFTPPassword("wrong")
	if _, err := w.SetDestination(ctx, d); !errors.Is(err, export.ErrLogin) || w.Step() != StepDestination {
		t.Fatalf("wrong password: %v at %s", err, w.Step())
	}
	w.SetFTPPassword("pw-123")
	p, err := w.SetDestination(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if p.Free != -1 || p.Needed != p.Bytes {
		t.Errorf("FTP plan %+v", p)
	}
	if err := w.Confirm(false); err != nil {
		t.Fatal(err)
	}
	r, err := w.Export(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exported != 4 || !r.OK() || r.Verify.Checked != 4 || !strings.HasSuffix(r.Manifest, "/"+export.ManifestName) || !strings.HasPrefix(r.Manifest, "ftp://wiz@"+addr) {
		t.Errorf("report %+v", r)
	}
	b, err := os.ReadFile(filepath.Join(root, "vm1", "vm1.vmx"))
	if err != nil || string(b) != testVMX {
		t.Errorf("vm1.vmx on the server: %v %q", err, b)
	}
	flat, err := os.ReadFile(filepath.Join(root, "vm1", "vm1-flat.vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(flat)
	if want, _ := res.Lookup("/vm1/vm1-flat.vmdk").SHA256(); hex.EncodeToString(sum[:]) != want {
		t.Errorf("flat extent on the server differs")
	}
}

// TestTerminalFTP types an FTP destination: a wrong password is refused at
// the destination step, the right one goes through to a verified export.
func TestTerminalFTP(t *testing.T) {
	img, _ := testVolume(t)
	addr, root := startFTP(t)
	t.Setenv(export.FTPPasswordEnv, "")
	url := "ftp://wiz@" + addr + "/recovered"
	input := strings.Join([]string{"", "", "f vms", "2", "d", "2", url, "wrong", "2", url, "pw-123", "y", ""}, "\n") + "\n"
	w := New(Options{})
	defer w.Close()
	out, err := runTerminal(t, w, input, img)
	if err != nil || w.Step() != StepDone {
		t.Fatalf("%v at %s\n%s", err, w.Step(), out)
	}
	for _, s := range []string{"FTP login refused", "free space unknown at this destination", "Verify:      OK, 2 file(s)"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "pw-123") {
		// Typed input is not echoed here (no terminal): any copy in the
		// output would be the wizard's own.
		t.Errorf("password printed:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(root, "recovered", "vm2", "vm2.vmx")); err != nil || !strings.Contains(string(b), "Second") {
		t.Errorf("vm2.vmx on the server: %v %q", err, b)
	}
}

// TestFTPSDestinationOptions: the wizard's FTP destination has the
// command line's options. An implicit-TLS server whose certificate only a
// CA file vouches for, a password only in a netrc file: the answers name
// the CA file and implicit TLS, and the whole volume (".") goes to the
// server without the volume's system files.
func TestFTPSDestinationOptions(t *testing.T) {
	img, _ := testVolume(t)
	pki := t.TempDir()
	remotetest.WriteTestPKI(t, pki)
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "server-cert.pem"), filepath.Join(pki, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	addr, root := startFTPWith(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine 127.0.0.1 login wiz password pw-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(export.FTPPasswordEnv, "")
	t.Setenv("NETRC", netrc)
	answers := `{"select": ["/"], "destination": {"ftp": "ftps://wiz@` + addr + `/all", "ca_file": ` + quote(filepath.Join(pki, "ca-cert.pem")) + `}}`
	a, err := LoadAnswers(strings.NewReader(answers))
	if err != nil {
		t.Fatal(err)
	}
	a.Sources = []string{img}
	w := New(Options{FTP: session.DestinationOptions{Timeout: 10 * time.Second}})
	defer w.Close()
	var log strings.Builder
	r, err := RunAnswers(context.Background(), w, a, &log, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !r.OK() || !r.Verified {
		t.Errorf("report %+v", r)
	}
	if b, err := os.ReadFile(filepath.Join(root, "all", "vm1", "vm1.vmx")); err != nil || string(b) != testVMX {
		t.Errorf("vm1.vmx on the server: %v %q", err, b)
	}
	ents, err := os.ReadDir(filepath.Join(root, "all"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".sf") {
			t.Errorf("system file %s exported", e.Name())
		}
	}
}

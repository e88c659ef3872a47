package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func goFTPHarness(tlsMode string) func(t *testing.T) *harness {
	return func(t *testing.T) *harness {
		g := startGoFTP(t, tlsMode)
		return &harness{dest: g.dest(t, tlsMode), at: func(t *testing.T, dir string) Destination {
			d := g.dest(t, tlsMode)
			d.Dir = dir
			return d
		}}
	}
}

// TestMain also removes the real samples the tests unpacked
// (vmfstest.RealSample).
func TestMain(m *testing.M) {
	// goftp's server logs every failed SIZE with the standard logger.
	log.SetOutput(io.Discard)
	os.Exit(vmfstest.RunTests(m))
}

func TestFTPConformance(t *testing.T) { runConformance(t, goFTPHarness("")) }

func TestFTPSExplicitConformance(t *testing.T) { runConformance(t, goFTPHarness("explicit")) }

func TestParseFTPURL(t *testing.T) {
	for _, tc := range []struct {
		url, host, user, dir string
		tls                  bool
		err                  error
	}{
		{"ftp://backup@nas.example:2121/recovered/vm1", "nas.example:2121", "backup", "recovered/vm1", false, nil},
		{"ftps://nas.example", "nas.example:21", "", "", true, nil},
		{"ftp://[::1]/%2Fsrv/x", "[::1]:21", "", "/srv/x", false, nil},
		{"ftp://u:hunter2@h/", "", "", "", false, ErrPasswordInURL},
		{"sftp://h/", "", "", "", false, ErrFTPURL},
		{"ftp:///dir", "", "", "", false, ErrFTPURL},
		{"ftp://h:99999/", "", "", "", false, ErrFTPURL},
		{"ftp://u:hunter2@h:bad/", "", "", "", false, ErrFTPURL},
	} {
		d, err := ParseFTPURL(tc.url)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.url, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s: error repeats the password: %v", tc.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if d.Host != tc.host || d.User != tc.user || d.Dir != tc.dir || (d.TLS != nil) != tc.tls {
			t.Errorf("%s: got %+v", tc.url, d)
		}
	}
}

func TestFTPWrongPassword(t *testing.T) {
	g := startGoFTP(t, "")
	d := g.dest(t, "")
	d.SetPassword("wrong-Secret-42")
	fsys := newTestFS()
	fsys.file("a", []byte("a"))
	_, err := Export(context.Background(), fsys, nil, d, testOpts())
	if !errors.Is(err, ErrLogin) {
		t.Fatalf("error %v, want ErrLogin", err)
	}
	if strings.Contains(err.Error(), "wrong-Secret-42") || strings.Contains(d.String(), "wrong-Secret-42") {
		t.Fatalf("password in error or name: %v / %s", err, d)
	}
}

// TestFTPConnectionCut cuts the connection twice in the middle of a big
// file: the exporter reconnects, asks the size, continues with REST+STOR,
// and the result matches the source.
func TestFTPConnectionCut(t *testing.T) {
	g := startGoFTP(t, "")
	data := randBytes(11, 5*chunkSize+333)
	fsys := newTestFS()
	fsys.file("disk-flat.vmdk", data)
	p := startCutProxy(t, g.addr, 2*chunkSize+12345, 2)
	d := withProxy(g.dest(t, ""), p)
	rep, err := Export(context.Background(), fsys, nil, d, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	e := rep.Entries[0]
	if e.Status != StatusExported || e.Retries < 1 || p.cutsMade() != 2 {
		t.Fatalf("entry %+v after %d cuts", e, p.cutsMade())
	}
	got, err := os.ReadFile(filepath.Join(g.root, "disk-flat.vmdk"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
	res, err := Verify(context.Background(), connect(t, g.dest(t, "")), manifestOf(t, connect(t, g.dest(t, ""))), nil)
	if err != nil || res.Checked != 1 {
		t.Fatalf("verify: %v %+v", err, res)
	}
}

// TestFTPResumeWhileServerStillWrites: after a cut the server goes on
// writing what the dropped data connection carried, for a good while. An
// exporter that continued from the size it first sees would have the rest
// of the file written after those late bytes (goftp's file driver appends
// whatever REST says), shifted; it must wait for the size to settle.
func TestFTPResumeWhileServerStillWrites(t *testing.T) {
	g := startGoFTP(t, "")
	g.driver.lag.Store(int64(2 * time.Millisecond)) // about 8 MB/s
	data := randBytes(13, 3*chunkSize+77)
	fsys := newTestFS()
	fsys.file("disk-flat.vmdk", data)
	p := startCutProxy(t, g.addr, chunkSize+999, 1)
	rep, err := Export(context.Background(), fsys, nil, withProxy(g.dest(t, ""), p), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if e := rep.Entries[0]; e.Status != StatusExported || e.Retries != 1 || p.cutsMade() != 1 {
		t.Fatalf("entry %+v after %d cuts", e, p.cutsMade())
	}
	got, err := os.ReadFile(filepath.Join(g.root, "disk-flat.vmdk"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
}

// TestFTPResumeChecksTheTail: a partial file whose size fits but whose last
// bytes are not the source's (another export, a server that wrote them
// elsewhere) is started over, not continued.
func TestFTPResumeChecksTheTail(t *testing.T) {
	g := startGoFTP(t, "")
	data := randBytes(14, 2*chunkSize+5)
	partial := bytes.Clone(data[:chunkSize+100])
	partial[len(partial)-1] ^= 0xff
	if err := os.WriteFile(filepath.Join(g.root, tempName("disk-flat.vmdk")), partial, 0o644); err != nil {
		t.Fatal(err)
	}
	fsys := newTestFS()
	fsys.file("disk-flat.vmdk", data)
	rep, err := Export(context.Background(), fsys, nil, g.dest(t, ""), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if e := rep.Entries[0]; e.Status != StatusExported || e.ResumedFrom != 0 {
		t.Fatalf("entry %+v", e)
	}
	got, err := os.ReadFile(filepath.Join(g.root, "disk-flat.vmdk"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
}

// TestFTPCutsExhaustRetries: a link that keeps dropping fails the file after
// the bounded retries, and nothing is reported exported.
func TestFTPCutsExhaustRetries(t *testing.T) {
	g := startGoFTP(t, "")
	fsys := newTestFS()
	fsys.file("big", randBytes(12, 8*chunkSize))
	p := startCutProxy(t, g.addr, chunkSize, 100)
	opts := testOpts()
	opts.Retries = 2
	rep, err := Export(context.Background(), fsys, nil, withProxy(g.dest(t, ""), p), opts)
	if err != nil {
		t.Fatal(err)
	}
	if e := rep.Entries[0]; e.Status != StatusFailed || rep.Exported != 0 || !strings.Contains(e.Error, "after 2 retries") {
		t.Fatalf("%+v", rep.Entries)
	}
	if _, err := os.Stat(filepath.Join(g.root, "big")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed upload has its final name: %v", err)
	}
}

func TestFTPServerRefusesWrites(t *testing.T) {
	g := startGoFTP(t, "")
	g.driver.refuse.Store(true)
	fsys := newTestFS()
	fsys.file("a.txt", []byte("data"))
	rep, _ := Export(context.Background(), fsys, nil, g.dest(t, ""), testOpts())
	if rep.Exported != 0 || rep.Failed != 1 || rep.Entries[0].Status != StatusFailed {
		t.Fatalf("%+v", rep.Entries)
	}
	if _, err := os.Stat(filepath.Join(g.root, "a.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("refused file exists")
	}
}

// TestFTPTimeout: a server that accepts but never answers fails the
// connection after the timeout instead of hanging.
func TestFTPTimeout(t *testing.T) {
	ln, err := netListen(t)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseFTPURL("ftp://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	d.DialTimeout, d.IOTimeout = 300*time.Millisecond, 300*time.Millisecond
	start := time.Now()
	_, err = d.Connect(context.Background())
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("connect to a silent server: %v after %v", err, time.Since(start))
	}
}

// TestFTPNoRest: a server without REST gets the file again from the start
// after a cut, and the result is still right.
func TestFTPNoRest(t *testing.T) {
	g := startGoFTP(t, "", "REST")
	data := randBytes(13, 4*chunkSize)
	fsys := newTestFS()
	fsys.file("d.bin", data)
	p := startCutProxy(t, g.addr, 2*chunkSize, 1)
	rep, err := Export(context.Background(), fsys, nil, withProxy(g.dest(t, ""), p), testOpts())
	if err != nil || rep.Exported != 1 || rep.Entries[0].Retries == 0 {
		t.Fatalf("%v %+v", err, rep.Entries)
	}
	got, err := os.ReadFile(filepath.Join(g.root, "d.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
}

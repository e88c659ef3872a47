package remotetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// StartQemuNBDTLS exports image (raw) with qemu-nbd requiring TLS, with a
// server certificate for 127.0.0.1 signed by a CA made for the test. It
// returns the server and the CA's PEM file.
func StartQemuNBDTLS(t testing.TB, image string) (*NBD, string) {
	t.Helper()
	bin := testenv.Tool(t, "qemu-nbd")
	dir := t.TempDir()
	WriteTestPKI(t, dir)
	s := &NBD{t: t, Port: FreePort(t)}
	s.args = []string{bin, "-r", "-t", "-e", "8", "-f", "raw", "--bind", "127.0.0.1", "-p", strconv.Itoa(s.Port),
		"--object", "tls-creds-x509,id=tls0,endpoint=server,verify-peer=off,dir=" + dir, "--tls-creds", "tls0", image}
	s.Start()
	t.Cleanup(s.Stop)
	return s, filepath.Join(dir, "ca-cert.pem")
}

// WriteTestPKI writes ca-cert.pem, server-cert.pem and server-key.pem (for
// IP 127.0.0.1), the names qemu's tls-creds-x509 looks for in dir.
func WriteTestPKI(t testing.TB, dir string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vmfsrecover test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKeyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca-cert.pem":     {Type: "CERTIFICATE", Bytes: caDER},
		"server-cert.pem": {Type: "CERTIFICATE", Bytes: srvDER},
		"server-key.pem":  {Type: "PRIVATE KEY", Bytes: srvKeyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

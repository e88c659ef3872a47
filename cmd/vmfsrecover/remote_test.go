package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
	"golang.org/x/crypto/ssh"
)

// ls over an NBD export prints the same listing as over the local image.
func TestLsOverNBD(t *testing.T) {
	res := genVolume(t, 5)
	srv := remotetest.StartQemuNBD(t, res.Image, "raw", "ds")
	var out bytes.Buffer
	o := &lsOptions{globalOptions: &globalOptions{quiet: true}, recursive: true, hash: "sha256"}
	if err := runLs(context.Background(), o, []string{srv.URL("ds")}, &out); err != nil {
		t.Fatal(err)
	}
	want, _ := res.Expected()
	if out.String() != want {
		t.Errorf("ls over NBD =\n%s\nwant\n%s", out.String(), want)
	}
}

// An unknown host is refused with its fingerprint; --accept-host-key with
// that fingerprint lets ls through.
func TestAcceptHostKeyFlag(t *testing.T) {
	res := genVolume(t, 6)
	srv := remotetest.StartSSHD(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv(remote.EnvAcceptHostKey, "")
	t.Setenv(remote.EnvKnownHosts, "")
	t.Setenv(remote.EnvRetryFor, "")
	t.Setenv(remote.EnvIdentity, "")
	fp := ssh.FingerprintSHA256(srv.HostKey)
	spec := srv.URL(res.Image)

	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"ls", "-q", "--ssh-identity", srv.Identity, spec})
	err := root.Execute()
	if !errors.Is(err, remote.ErrHostKeyUnknown) || !strings.Contains(err.Error(), fp) {
		t.Fatalf("unknown host: err = %v, want ErrHostKeyUnknown showing %s", err, fp)
	}

	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"ls", "-q", "--ssh-identity", srv.Identity, "--accept-host-key", fp, spec, "/vm1"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "vm1.vmx") {
		t.Errorf("ls /vm1 over SSH = %q", out.String())
	}
	if os.Getenv(remote.EnvAcceptHostKey) != fp {
		t.Error("--accept-host-key did not reach the environment package remote reads")
	}

	root = newRootCmd()
	root.SetArgs([]string{"ls", "--accept-host-key", "yes", spec})
	if err := root.Execute(); err == nil || exitCode(err) != exitUsage {
		t.Errorf("--accept-host-key yes: err = %v, want a usage error", err)
	}
}

// scan and export take an NBD SOURCE unchanged.
func TestScanAndExportOverNBD(t *testing.T) {
	res := genVolume(t, 6)
	srv := remotetest.StartQemuNBD(t, res.Image, "raw", "")
	spec := srv.URL("")

	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"scan", "-q", spec})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cmdtest") {
		t.Errorf("scan over NBD does not show the volume label:\n%s", out.String())
	}

	dir := t.TempDir()
	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"export", "-q", "--to", dir, spec, "/vm1"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "vm1", "vm1.vmx"))
	if err != nil || string(got) != "displayName = \"vm1\"\n" {
		t.Fatalf("exported vm1.vmx = %q, %v", got, err)
	}
}

// scan reads an nbds:// SOURCE when --nbd-ca names the CA of the server's
// certificate, and refuses the certificate without it.
func TestScanOverNBDTLS(t *testing.T) {
	res := genVolume(t, 6)
	srv, ca := remotetest.StartQemuNBDTLS(t, res.Image)
	spec := fmt.Sprintf("nbds://127.0.0.1:%d/", srv.Port)
	t.Setenv(remote.EnvNBDCA, "")
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"scan", "-q", spec})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without --nbd-ca: err = %v, want a certificate error", err)
	}
	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"scan", "-q", "--nbd-ca", ca, spec})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cmdtest") {
		t.Errorf("scan over nbds:// does not show the volume label:\n%s", out.String())
	}
}

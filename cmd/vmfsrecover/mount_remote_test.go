package main

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestMountOverRemoteSources: a generated volume served over NBD
// (qemu-nbd) and over SSH (sshd's SFTP) mounts, and every file reads
// through the mount with the sha256 of the volume's expected listing.
func TestMountOverRemoteSources(t *testing.T) {
	res := genVolume(t, 6)
	want, _ := res.Expected()
	t.Run("nbd", func(t *testing.T) {
		srv := remotetest.StartQemuNBD(t, res.Image, "raw", "ds")
		m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, srv.URL("ds"))
		if got := expectedOf(t, m.dir); got != want {
			t.Errorf("through the mount of nbd://:\n%s\nwant:\n%s", got, want)
		}
		m.stop(t)
	})
	t.Run("ssh", func(t *testing.T) {
		srv := remotetest.StartSSHD(t)
		t.Setenv("HOME", t.TempDir())
		t.Setenv("SSH_AUTH_SOCK", "")
		t.Setenv(remote.EnvAcceptHostKey, "")
		t.Setenv(remote.EnvKnownHosts, srv.KnownHosts(srv.HostKey))
		t.Setenv(remote.EnvIdentity, srv.Identity)
		m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, srv.URL(res.Image))
		if got := expectedOf(t, m.dir); got != want {
			t.Errorf("through the mount of ssh://:\n%s\nwant:\n%s", got, want)
		}
		m.stop(t)
	})
}

// TestMountReconnectsDuringARead: the NBD server of a mounted volume
// stops while a program reads a file through the mount, and starts again
// half a second later; the read goes on once the link is back, and the
// file's bytes are whole.
func TestMountReconnectsDuringARead(t *testing.T) {
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "ds.img"), vmfstest.Spec{
		Version: 6, Label: "drop",
		Files: []vmfstest.Entry{{Path: "big", Size: 24 << 20, Seed: 5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := res.Expected()
	// Every read takes 50 ms, so the file is still being read when the
	// server stops.
	srv := remotetest.StartNBDKitWith(t, res.Image, []string{"--filter=delay"}, []string{"delay-read=50ms"})
	t.Setenv(remote.EnvRetryFor, "30s")
	m := mountForTest(t, &mountOptions{globalOptions: &globalOptions{quiet: true}}, srv.URL(""))
	var done, early atomic.Bool
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(300 * time.Millisecond)
		early.Store(done.Load())
		srv.Stop()
		time.Sleep(500 * time.Millisecond)
		srv.Start()
	}()
	got := expectedOf(t, m.dir)
	done.Store(true)
	<-restarted
	if early.Load() {
		t.Fatal("the file was read before the server stopped: nothing tested")
	}
	if got != want {
		t.Errorf("read through the mount across a dropped link:\n%s\nwant:\n%s", got, want)
	}
	m.stop(t)
}

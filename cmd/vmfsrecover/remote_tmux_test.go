package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
	"golang.org/x/crypto/ssh"
)

// The real binary in a real terminal (tmux on its own server socket) asks
// for the SSH password without echo, logs in with it, and never shows it.
func TestSSHPasswordPromptOnTerminal(t *testing.T) {
	testenv.Tool(t, "tmux")
	const secret = "Pr0mpted-S3cret"
	srv := remotetest.StartPasswordSSH(t, secret, false)
	res := genVolume(t, 5)
	dir := t.TempDir()
	bin := filepath.Join(dir, "vmfsrecover")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	script := filepath.Join(dir, "run.sh")
	os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
export HOME=%s SSH_AUTH_SOCK= VMFSRECOVER_SSH_PASSWORD=
unset VMFSRECOVER_SSH_PASSWORD
%s ls --accept-host-key %s ssh://recover@%s%s /vm1
echo "EXIT=$?"
sleep 60
`, dir, bin, ssh.FingerprintSHA256(srv.HostKey), srv.Addr, res.Image)), 0o755)

	sock := fmt.Sprintf("vmfsrecover-remote-%d-%d", os.Getpid(), time.Now().UnixNano())
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "pw", "-x", "200", "-y", "40", script)
	t.Cleanup(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-J", "-t", "pw") }
	wait := func(text string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if s := screen(); strings.Contains(s, text) {
				return s
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%q never appeared; screen:\n%s", text, screen())
		return ""
	}
	wait("recover@" + srv.Addr + "'s password:")
	tmux("send-keys", "-t", "pw", "-l", secret)
	tmux("send-keys", "-t", "pw", "Enter")
	s := wait("EXIT=")
	if !strings.Contains(s, "EXIT=0") || !strings.Contains(s, "vm1.vmx") {
		t.Fatalf("ls over SSH with a prompted password failed; screen:\n%s", s)
	}
	if strings.Contains(s, secret) {
		t.Fatalf("the password shows on the terminal:\n%s", s)
	}
}

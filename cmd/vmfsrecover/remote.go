package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// remoteSourceHelp is the part of the root help about remote SOURCEs.
const remoteSourceHelp = `A SOURCE may also be remote, read in place without copying it first:
  ssh://user@host[:port]/dev/sdb      a disk, image or VMDK on a host, over SFTP
  nbd://host[:port]/export            an NBD export (qemu-nbd or nbdkit on a rescue system)
  nbds://host[:port]/export           the same over TLS; the server's certificate must
                                      chain to --nbd-ca (or the system's CAs)
SSH host keys are checked against ~/.ssh/known_hosts; an unknown or changed key
is refused with its fingerprint, which --accept-host-key then trusts. Logins use
ssh-agent, --ssh-identity (default ~/.ssh/id_ed25519, id_ecdsa, id_rsa), then a
password prompt or ` + remote.EnvPassword + `; passwords are never accepted on the
command line. A dropped link is re-established for --retry-for before failing.`

// addRemoteFlags adds the flags of remote sources. They set the variables
// package remote reads (VMFSRECOVER_SSH_*), so every command and the wizard
// open remote sources alike.
func addRemoteFlags(f *pflag.FlagSet) {
	f.Var(envFlag{remote.EnvAcceptHostKey, checkFingerprint}, "accept-host-key",
		"trust this SSH host key fingerprint (SHA256:..., as printed when refused) although known_hosts does not list it (env "+remote.EnvAcceptHostKey+")")
	f.Var(envFlag{remote.EnvIdentity, checkReadable}, "ssh-identity",
		"private key file for ssh:// sources (env "+remote.EnvIdentity+"; default ~/.ssh/id_ed25519, id_ecdsa, id_rsa, and ssh-agent)")
	f.Var(envFlag{remote.EnvNBDCA, checkReadable}, "nbd-ca",
		"PEM file of the CA that signed an nbds:// server's certificate (env "+remote.EnvNBDCA+"; default: the system's CAs)")
	f.Var(envFlag{remote.EnvNBDCert, checkReadable}, "nbd-cert",
		"PEM client certificate for nbds:// servers that verify their peers (env "+remote.EnvNBDCert+"), with --nbd-key")
	f.Var(envFlag{remote.EnvNBDKey, checkReadable}, "nbd-key",
		"private key of --nbd-cert (env "+remote.EnvNBDKey+")")
	f.Var(envFlag{remote.EnvRetryFor, checkDuration}, "retry-for",
		"how long a dropped remote link is re-dialled before reads fail, e.g. 30s or 10m (env "+remote.EnvRetryFor+"; default 2m)")
}

// envFlag is a flag whose value goes to an environment variable.
type envFlag struct {
	name  string
	check func(string) error
}

func (e envFlag) String() string {
	if e.name == "" {
		return ""
	}
	return os.Getenv(e.name)
}

func (e envFlag) Set(v string) error {
	if err := e.check(v); err != nil {
		return err
	}
	return os.Setenv(e.name, v)
}

func (e envFlag) Type() string { return "string" }

func checkFingerprint(v string) error {
	if !strings.HasPrefix(v, "SHA256:") || len(v) != len("SHA256:")+43 {
		return fmt.Errorf("want a SHA256 fingerprint as ssh-keygen -l prints it (SHA256: and 43 characters), got %q", v)
	}
	return nil
}

func checkReadable(v string) error {
	f, err := os.Open(v)
	if err != nil {
		return err
	}
	return f.Close()
}

func checkDuration(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 30s or 10m, got %q", v)
	}
	return nil
}

package remote

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

func TestSSHPacketSizes(t *testing.T) {
	srv := startSSHD(t)
	img, data := randomImage(t, 3<<20+7, 10)
	// 4 KiB: many packets per chunk; 1 MiB: more than OpenSSH answers,
	// so every read comes back short and is continued.
	for _, packet := range []int{4 << 10, 1 << 20} {
		o := srv.options()
		o.SFTPPacket = packet
		f := srv.dial(t, o)
		file, err := f.Open(fsName(img))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(data))
		if _, err := file.(io.ReaderAt).ReadAt(got, 0); err != nil {
			t.Fatalf("packet %d: %v", packet, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("packet %d: data differs", packet)
		}
		file.Close()
	}
}

func TestProbeSize(t *testing.T) {
	for _, size := range []int64{1, 511, 512, 1 << 20, 1<<20 + 1, 5_000_000, 3 << 30} {
		calls := 0
		got, err := probeSize(func(p []byte, off int64) (int, error) {
			calls++
			if off >= size {
				return 0, io.EOF
			}
			p[0] = 1
			return 1, nil
		})
		if err != nil || got != size {
			t.Errorf("size %d: probeSize = %d, %v", size, got, err)
		}
		if calls > 2*64+2 {
			t.Errorf("size %d: %d probes", size, calls)
		}
	}
	if n, err := probeSize(func([]byte, int64) (int, error) { return 0, io.EOF }); n != 0 || err != nil {
		t.Errorf("empty device: %d, %v", n, err)
	}
	boom := errors.New("boom")
	if _, err := probeSize(func(p []byte, off int64) (int, error) {
		if off > 1<<22 {
			return 0, boom
		}
		return 1, nil
	}); !errors.Is(err, boom) {
		t.Errorf("read error: err = %v, want it wrapped", err)
	}
}

func TestParseTarget(t *testing.T) {
	t.Setenv("USER", "me")
	good := map[string]Target{
		"ssh://root@esx1/dev/disks/naa.1":        {"ssh", "root", "esx1:22", "/dev/disks/naa.1", false},
		"ssh://root@10.0.0.5:2222/img/disk.vmdk": {"ssh", "root", "10.0.0.5:2222", "/img/disk.vmdk", false},
		"sftp://host/x":                          {"ssh", "me", "host:22", "/x", false},
		"ssh://root@[fe80::1]:22/dev/sdb":        {"ssh", "root", "[fe80::1]:22", "/dev/sdb", false},
		"nbd://rescue/disk0":                     {"nbd", "", "rescue:10809", "disk0", false},
		"nbd://rescue:10810":                     {"nbd", "", "rescue:10810", "", false},
		"NBD://rescue/":                          {"nbd", "", "rescue:10809", "", false},
		"nbds://rescue/disk0":                    {"nbd", "", "rescue:10809", "disk0", true},
	}
	for spec, want := range good {
		got, err := ParseTarget(spec)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"ssh://host", "ssh://host/", "ssh://:22/x", "nbd://u@host/x", "http://host/x",
		"nbd://host:0/x", "nbd://host:99999/x", "ssh://root:pw@host/x", "ssh://%zz@host/x"} {
		_, err := ParseTarget(spec)
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("%s: err = %v, want ErrBadURL", spec, err)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%s: password in the error: %v", spec, err)
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv(EnvRetryFor, "45s")
	t.Setenv(EnvPassword, "pw")
	t.Setenv(EnvIdentity, "/k")
	o, err := OptionsFromEnv()
	if err != nil || o.RetryFor.Seconds() != 45 || len(o.Identities) != 1 || o.Password == nil {
		t.Fatalf("OptionsFromEnv = %+v, %v", o, err)
	}
	if pw, _ := o.Password("u", "h"); pw != "pw" {
		t.Errorf("password = %q", pw)
	}
	t.Setenv(EnvRetryFor, "soon")
	if _, err := OptionsFromEnv(); err == nil {
		t.Error("bad duration accepted")
	}
}

// Nothing listens: the first connection fails at once, naming the target,
// with the system's error reachable through errors.Is.
func TestConnectRefused(t *testing.T) {
	port := remotetest.FreePort(t)
	o := testOptions()
	tg, _ := ParseTarget("nbd://127.0.0.1:" + strconv.Itoa(port) + "/x")
	_, err := OpenNBD(tg, o)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), tg.String()) {
		t.Errorf("NBD: err = %v", err)
	}
	tg = Target{Scheme: "ssh", User: "u", Host: "127.0.0.1:" + strconv.Itoa(port), Path: "/x"}
	_, err = DialSSH(tg, o)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), tg.String()) {
		t.Errorf("SSH: err = %v", err)
	}
}

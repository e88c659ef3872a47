package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolvePassword(t *testing.T) {
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte(`# backup server
machine nas.example login backup password n3trc-pass
macdef init
cd /tmp
quit

machine other.example login x password y
default login anonymous password guest@
`), 0o600)
	noenv := func(string) string { return "" }
	for _, tc := range []struct {
		url, env, want, user string
		prompt               bool
		err                  error
	}{
		{"ftp://backup@nas.example/", "env-pass", "env-pass", "backup", false, nil},
		{"ftp://backup@nas.example:2121/", "", "n3trc-pass", "backup", false, nil},
		{"ftp://nas.example/", "", "n3trc-pass", "backup", false, nil},
		{"ftp://someone@else.example/", "", "typed", "someone", true, nil},
		{"ftp://someone@else.example/", "", "", "someone", false, ErrNoPassword},
		{"ftp://unknown.example/", "", "guest@", "anonymous", false, nil},
	} {
		d, err := ParseFTPURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		src := PasswordSources{Getenv: noenv, NetrcPath: netrc}
		if tc.env != "" {
			src.Getenv = func(k string) string {
				if k == FTPPasswordEnv {
					return tc.env
				}
				return ""
			}
		}
		if tc.prompt {
			src.Prompt = func(q string) (string, error) {
				if !strings.Contains(q, "someone@else.example") {
					t.Errorf("prompt %q", q)
				}
				return "typed", nil
			}
		}
		if tc.url == "ftp://someone@else.example/" && !tc.prompt {
			os.WriteFile(netrc+"2", []byte("machine nas.example password p\n"), 0o600)
			src.NetrcPath = netrc + "2"
		}
		err = ResolvePassword(d, src)
		if !errors.Is(err, tc.err) || d.password != tc.want || d.User != tc.user {
			t.Errorf("%s: password %q user %q err %v; want %q %q %v", tc.url, d.password, d.User, err, tc.want, tc.user, tc.err)
		}
	}
}

func TestParseNetrcErrors(t *testing.T) {
	for _, s := range []string{"machine", "login x", "machine a bogus"} {
		if _, err := parseNetrc(strings.NewReader(s)); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

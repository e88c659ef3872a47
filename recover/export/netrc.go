package export

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// netrcEntry is one "machine" (or "default") block of a netrc file.
type netrcEntry struct {
	machine  string // "" for default
	login    string
	password string
}

// maxNetrc bounds the netrc file read.
const maxNetrc = 1 << 20

// parseNetrc reads the tokens of a netrc file (machine, default, login,
// password, account, macdef); macro bodies are skipped up to the blank line
// that ends them.
func parseNetrc(r io.Reader) ([]netrcEntry, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxNetrc))
	sc.Buffer(make([]byte, 0, 4096), maxNetrc)
	var toks []string
	inMacro := false
	for sc.Scan() {
		line := sc.Text()
		if inMacro {
			if strings.TrimSpace(line) == "" {
				inMacro = false
			}
			continue
		}
		if i := strings.IndexByte(line, '#'); i >= 0 && strings.TrimSpace(line[:i]) == "" {
			continue
		}
		f := strings.Fields(line)
		for i, t := range f {
			if t == "macdef" {
				toks = append(toks, f[:i]...)
				inMacro = true
				f = nil
				break
			}
		}
		toks = append(toks, f...)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []netrcEntry
	var cur *netrcEntry
	for i := 0; i < len(toks); i++ {
		arg := func() (string, error) {
			if i+1 >= len(toks) {
				return "", fmt.Errorf("netrc: %q without a value", toks[i])
			}
			i++
			return toks[i], nil
		}
		switch toks[i] {
		case "machine":
			m, err := arg()
			if err != nil {
				return nil, err
			}
			out = append(out, netrcEntry{machine: m})
			cur = &out[len(out)-1]
		case "default":
			out = append(out, netrcEntry{})
			cur = &out[len(out)-1]
		case "login", "password", "account":
			key := toks[i]
			v, err := arg()
			if err != nil {
				return nil, err
			}
			if cur == nil {
				return nil, fmt.Errorf("netrc: %q before any machine", key)
			}
			switch key {
			case "login":
				cur.login = v
			case "password":
				cur.password = v
			}
		default:
			return nil, fmt.Errorf("netrc: unexpected token %q", toks[i])
		}
	}
	return out, nil
}

// lookupNetrc finds the password for user at host (without port); an entry
// without login matches any user. The first matching machine wins, then
// default.
func lookupNetrc(entries []netrcEntry, host, user string) (login, password string, ok bool) {
	for _, def := range []bool{false, true} {
		for _, e := range entries {
			if (e.machine == "") != def || (!def && !strings.EqualFold(e.machine, host)) {
				continue
			}
			if user != "" && e.login != "" && e.login != user {
				continue
			}
			return e.login, e.password, true
		}
	}
	return "", "", false
}

// ErrNoPassword reports that no source had a password and there is no
// terminal to ask on.
var ErrNoPassword = errors.New("no FTP password: set " + FTPPasswordEnv + ", add the host to ~/.netrc, or run on a terminal to be asked")

// PasswordSources are where ResolvePassword looks, in order.
type PasswordSources struct {
	Getenv    func(string) string // os.Getenv when nil
	NetrcPath string              // $NETRC, else ~/.netrc, when empty
	// Prompt asks the user; nil when there is no terminal.
	Prompt func(question string) (string, error)
}

// ResolvePassword sets d's password (and its user, from netrc, when the URL
// named none) from the environment variable FTPPasswordEnv, a netrc file, or
// a prompt. Anonymous logins need none.
func ResolvePassword(d *FTP, src PasswordSources) error {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv(FTPPasswordEnv); p != "" {
		d.SetPassword(p)
		return nil
	}
	host, _, err := net.SplitHostPort(d.Host)
	if err != nil {
		host = d.Host
	}
	path := src.NetrcPath
	if path == "" {
		path = getenv("NETRC")
	}
	if path == "" {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, ".netrc")
		}
	}
	if path != "" {
		if f, err := os.Open(path); err == nil {
			entries, perr := parseNetrc(f)
			f.Close()
			if perr != nil {
				return fmt.Errorf("%s: %w", path, perr)
			}
			if login, pass, ok := lookupNetrc(entries, host, d.User); ok {
				if d.User == "" {
					d.User = login
				}
				d.SetPassword(pass)
				return nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if d.User == "" || d.User == "anonymous" || d.User == "ftp" {
		return nil
	}
	if src.Prompt == nil {
		return ErrNoPassword
	}
	p, err := src.Prompt(fmt.Sprintf("FTP password for %s@%s: ", d.User, d.Host))
	if err != nil {
		return err
	}
	d.SetPassword(p)
	return nil
}

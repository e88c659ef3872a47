package export

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// ManifestName is the manifest file at the root of a destination.
	ManifestName = "vmfsrecover-manifest.jsonl"
	// maxNameLen is NAME_MAX on Linux filesystems and what most FTP servers
	// accept for one path component.
	maxNameLen = 255
	tempPrefix = ".vmfsrecover-"
	tempSuffix = ".part"
)

// SafeName returns a form of one path component that can be created in a
// directory without escaping it or breaking it: "/" and "\\", NUL, control
// characters and invalid UTF-8 become "_"; "", "." and ".." get a "_" prefix;
// the tool's reserved names (the manifest, temporary names) get a "_"
// suffix; a name longer than 255 bytes is cut at a character boundary and
// ends in "~" and 8 hex digits of the original name's sha256, so distinct
// long names stay distinct. SafeName is idempotent.
func SafeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteByte('_')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '/' || r == '\\':
			b.WriteByte('_')
		case r == '\u2028' || r == '\u2029':
			b.WriteByte('_')
		default:
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	s := b.String()
	switch s {
	case "", ".", "..":
		s = "_" + s
	}
	if isReserved(s) {
		s += "_"
	}
	if len(s) > maxNameLen {
		sum := sha256.Sum256([]byte(name))
		tag := "~" + hex.EncodeToString(sum[:4])
		cut := maxNameLen - len(tag)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + tag
	}
	return s
}

// isReserved reports names the exporter itself writes into a destination.
func isReserved(s string) bool {
	if s == ManifestName || strings.HasPrefix(s, ManifestName+".") {
		return true
	}
	return strings.HasPrefix(s, tempPrefix) && strings.HasSuffix(s, tempSuffix)
}

// tempName is the temporary name a file is written under before it is
// renamed to dest. It is derived from dest so that a rerun finds the partial
// file again, and short so that it fits wherever dest fits.
func tempName(dest string) string {
	dir, base := splitPath(dest)
	sum := sha256.Sum256([]byte(base))
	t := tempPrefix + hex.EncodeToString(sum[:8]) + tempSuffix
	if dir == "" {
		return t
	}
	return dir + "/" + t
}

func splitPath(p string) (dir, base string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

// nameTable makes sanitized names unique inside each destination directory.
// Two source names can map to the same safe name ("a\x01" and "a\x02"); the
// later one gets "~2", "~3"... before its extension.
type nameTable struct {
	used map[string]bool // destination paths already handed out
}

func newNameTable() *nameTable {
	return &nameTable{used: map[string]bool{ManifestName: true}}
}

// assign returns the destination path for component name inside destination
// directory dir ("" for the root).
func (t *nameTable) assign(dir, name string) string {
	safe := SafeName(name)
	join := func(s string) string {
		if dir == "" {
			return s
		}
		return dir + "/" + s
	}
	p := join(safe)
	if !t.used[p] {
		t.used[p] = true
		return p
	}
	stem, ext := safe, ""
	if i := strings.LastIndexByte(safe, '.'); i > 0 && len(safe)-i <= 16 {
		stem, ext = safe[:i], safe[i:]
	}
	for n := 2; ; n++ {
		suffix := "~" + strconv.Itoa(n) + ext
		s := stem
		if len(s)+len(suffix) > maxNameLen {
			cut := maxNameLen - len(suffix)
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			s = s[:cut]
		}
		p = join(s + suffix)
		if !t.used[p] {
			t.used[p] = true
			return p
		}
	}
}

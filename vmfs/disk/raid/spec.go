package raid

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Spec is an array written as text: the geometry, then the members in
// slot order. On the command line it is one string,
//
//	raid5:left-symmetric:64k:offset=0:a.img,b.img,missing,d.img
//
// fields separated by colons, members by commas, "missing" for a member
// that is gone. Every field but the level may be left out: what is left
// out is "auto", for detection to find (the members too: then they are
// the SOURCE arguments, in an order detection finds). The fields are the
// level (jbod, raid0, raid1, raid5, raid6, raid10), a layout (an mdadm
// name: left-symmetric, la, …; raid10 accepts n2 only), the chunk size
// (4k … 1m, a power of two), offset=N and size=N (bytes, or with a k, m,
// g or s = 512-byte sector suffix). The file form (ParseFile) puts the
// members one per line under the geometry line, so that paths may hold
// commas.
type Spec struct {
	Level   Level
	Layout  Layout // LayoutUnknown when not given
	Chunk   int64  // 0 when not given
	Offset  int64  // -1 when not given
	Size    int64  // 0 when not given (all of each member)
	Members []string
}

// Missing is how a spec names a member that is gone.
const Missing = "missing"

// ErrSpec is a spec that does not parse.
var ErrSpec = errors.New("raid: bad spec")

// Known reports whether every part of the geometry is given, so the array
// can be assembled without detection.
func (s Spec) Known() bool {
	if s.Level == LevelUnknown || s.Offset < 0 || len(s.Members) == 0 {
		return false
	}
	if s.Level.striped() && s.Chunk == 0 {
		return false
	}
	return s.Level.parity() == 0 || s.Layout != LayoutUnknown
}

// Geometry returns the spec's geometry, unknown parts as zero values.
func (s Spec) Geometry() Geometry {
	return Geometry{Level: s.Level, Layout: s.Layout, Chunk: s.Chunk, Offset: max(s.Offset, 0), Size: s.Size}
}

// SpecOf writes a geometry with member names as a spec.
func SpecOf(g Geometry, members []string) Spec {
	s := Spec{Level: g.Level, Layout: LayoutUnknown, Offset: g.Offset, Size: g.Size, Members: members}
	if g.Level.parity() > 0 || g.Level == RAID10 {
		s.Layout = g.Layout
	}
	if g.Level.striped() {
		s.Chunk = g.Chunk
	}
	return s
}

// Parse reads a spec string.
func Parse(text string) (Spec, error) {
	fields := strings.Split(strings.TrimSpace(text), ":")
	s, rest, err := parseGeometry(fields)
	if err != nil {
		return Spec{}, err
	}
	if len(rest) > 0 {
		for _, m := range strings.Split(strings.Join(rest, ":"), ",") {
			if m = strings.TrimSpace(m); m == "" {
				return Spec{}, fmt.Errorf("%w: empty member name in %q", ErrSpec, text)
			}
			s.Members = append(s.Members, m)
		}
	}
	return s, s.check()
}

// parseGeometry reads the leading geometry fields and returns the rest.
func parseGeometry(fields []string) (Spec, []string, error) {
	s := Spec{Layout: LayoutUnknown, Offset: -1}
	l, ok := parseLevel(strings.TrimSpace(fields[0]))
	if !ok {
		return s, nil, fmt.Errorf("%w: %q is not a level (jbod, raid0, raid1, raid5, raid6, raid10)", ErrSpec, fields[0])
	}
	s.Level = l
	i := 1
	for ; i < len(fields); i++ {
		f := strings.ToLower(strings.TrimSpace(fields[i]))
		if lay, ok := parseLayout(f); ok && s.Layout == LayoutUnknown {
			s.Layout = lay
			continue
		}
		if k, v, ok := strings.Cut(f, "="); ok && (k == "offset" || k == "size") {
			n, err := parseBytes(v)
			if err != nil {
				return s, nil, fmt.Errorf("%w: %s: %w", ErrSpec, k, err)
			}
			if k == "offset" {
				s.Offset = n
			} else {
				s.Size = n
			}
			continue
		}
		if f == "" || f[0] < '0' || f[0] > '9' || s.Chunk != 0 {
			break
		}
		n, err := parseBytes(f)
		if err != nil {
			break // a member named like a number, then
		}
		s.Chunk = n
	}
	return s, fields[i:], nil
}

func (s Spec) check() error {
	if s.Layout != LayoutUnknown && !s.Layout.validFor(s.Level) {
		return fmt.Errorf("%w: %s has no layout %s", ErrSpec, s.Level, s.Layout)
	}
	if s.Chunk != 0 {
		if !s.Level.striped() {
			return fmt.Errorf("%w: %s has no chunk size", ErrSpec, s.Level)
		}
		if s.Chunk < 512 || s.Chunk > 1<<30 || s.Chunk&(s.Chunk-1) != 0 {
			return fmt.Errorf("%w: chunk size %d is not a power of two from 512 bytes to 1 GiB", ErrSpec, s.Chunk)
		}
	}
	if n := len(s.Members); n > 0 && n < s.Level.minMembers() {
		return fmt.Errorf("%w: %s needs %d members, spec names %d", ErrSpec, s.Level, s.Level.minMembers(), n)
	}
	for _, m := range s.Members {
		if strings.HasPrefix(m, "#") || strings.ContainsFunc(m, unicode.IsControl) {
			return fmt.Errorf("%w: member name %q starts with # or holds control characters", ErrSpec, m)
		}
	}
	if len(s.Members) > maxMembers {
		return fmt.Errorf("%w: %d members, at most %d", ErrSpec, len(s.Members), maxMembers)
	}
	return nil
}

// maxMembers bounds member lists (md allows 1920 with 1.x superblocks; no
// hardware array comes near 256).
const maxMembers = 256

func parseBytes(v string) (int64, error) {
	mult := int64(1)
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 's', 'S':
			mult = 512
		}
		if mult != 1 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a byte count", v)
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// geometryString is the spec's fields before the members.
func (s Spec) geometryString() string {
	f := []string{s.Level.String()}
	if s.Layout != LayoutUnknown {
		f = append(f, s.Layout.String())
	}
	if s.Chunk != 0 {
		f = append(f, formatBytes(s.Chunk))
	}
	if s.Offset >= 0 {
		f = append(f, "offset="+formatBytes(s.Offset))
	}
	if s.Size > 0 {
		f = append(f, "size="+formatBytes(s.Size))
	}
	return strings.Join(f, ":")
}

// String formats the spec so that Parse reads it back.
func (s Spec) String() string {
	g := s.geometryString()
	if len(s.Members) == 0 {
		return g
	}
	return g + ":" + strings.Join(s.Members, ",")
}

// FileText formats the spec for a spec file: comment lines (each prefixed
// with "# "), the geometry line, then one member per line.
func (s Spec) FileText(comments ...string) string {
	var b strings.Builder
	for _, c := range comments {
		for _, l := range strings.Split(c, "\n") {
			b.WriteString("# " + l + "\n")
		}
	}
	b.WriteString(s.geometryString() + "\n")
	for _, m := range s.Members {
		b.WriteString(m + "\n")
	}
	return b.String()
}

// ParseFile reads a spec file: lines starting with # and blank lines are
// ignored; the first line is a spec (with or without members), and each
// further line names one more member.
func ParseFile(text string) (Spec, error) {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return Spec{}, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	if len(lines) == 0 {
		return Spec{}, fmt.Errorf("%w: empty spec file", ErrSpec)
	}
	if len(lines)-1 > maxMembers {
		return Spec{}, fmt.Errorf("%w: %d members, at most %d", ErrSpec, len(lines)-1, maxMembers)
	}
	s, err := Parse(lines[0])
	if err != nil {
		return Spec{}, err
	}
	s.Members = append(s.Members, lines[1:]...)
	return s, s.check()
}

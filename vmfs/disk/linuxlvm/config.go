package linuxlvm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// section is one block of the text metadata: NAME { key = value ... }.
// Values are string, int64, float64 or []any of those.
type section struct {
	name   string
	values map[string]any
	subs   []*section
}

func (s *section) sub(name string) *section {
	for _, x := range s.subs {
		if x.name == name {
			return x
		}
	}
	return nil
}

func (s *section) str(key string) (string, bool) {
	v, ok := s.values[key].(string)
	return v, ok
}

func (s *section) int(key string) (int64, bool) {
	v, ok := s.values[key].(int64)
	return v, ok
}

func (s *section) list(key string) []any {
	v, _ := s.values[key].([]any)
	return v
}

// flag reports whether the list key (status, flags) holds word.
func (s *section) flag(key, word string) bool {
	for _, v := range s.list(key) {
		if v == word {
			return true
		}
	}
	return false
}

// maxDepth bounds the nesting of sections; LVM writes four levels
// (VG, logical_volumes, LV, segment).
const maxDepth = 16

// parseConfig parses LVM's text metadata, the small configuration grammar
// of lvm.conf:
//
//	config  = item*
//	item    = NAME "=" value | NAME "{" item* "}"
//	value   = STRING | NUMBER | "[" [value ("," value)*] "]"
//
// with # comments to the end of the line and strings in double quotes
// with backslash escapes. Errors are *ondisk.FormatError naming the line.
func parseConfig(text []byte) (*section, error) {
	p := &parser{s: text, line: 1}
	root := &section{values: map[string]any{}}
	if err := p.items(root, 0); err != nil {
		return nil, err
	}
	if tok := p.next(); tok.kind != tEOF {
		return nil, p.errorf("unexpected %s", tok)
	}
	return root, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tName
	tString
	tNumber
	tPunct
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of text"
	case tString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

type parser struct {
	s      []byte
	i      int
	line   int
	peeked *token
}

func (p *parser) errorf(format string, args ...any) error {
	return &ondisk.FormatError{Struct: fmt.Sprintf("LVM metadata line %d", p.line), Off: -1, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+.-", c) >= 0
}

func (p *parser) peek() token {
	if p.peeked == nil {
		t := p.scan()
		p.peeked = &t
	}
	return *p.peeked
}

func (p *parser) next() token {
	t := p.peek()
	p.peeked = nil
	return t
}

func (p *parser) scan() token {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\n':
			p.line++
			p.i++
		case c == ' ' || c == '\t' || c == '\r' || c == 0:
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == '"':
			return p.scanString()
		case strings.IndexByte("={}[],", c) >= 0:
			p.i++
			return token{tPunct, string(c), p.line}
		case isNameByte(c):
			start := p.i
			for p.i < len(p.s) && isNameByte(p.s[p.i]) {
				p.i++
			}
			w := string(p.s[start:p.i])
			if _, err := strconv.ParseFloat(w, 64); err == nil {
				return token{tNumber, w, p.line}
			}
			return token{tName, w, p.line}
		default:
			p.i++
			return token{tPunct, string(c), p.line}
		}
	}
	return token{kind: tEOF, line: p.line}
}

func (p *parser) scanString() token {
	line := p.line
	var b strings.Builder
	p.i++ // opening quote
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return token{tString, b.String(), line}
		case '\\':
			if p.i < len(p.s) {
				c = p.s[p.i]
				p.i++
			}
		case '\n':
			p.line++
		}
		b.WriteByte(c)
	}
	// An unterminated string: the caller sees a token it does not expect.
	return token{tPunct, `"` + b.String(), line}
}

func (p *parser) items(s *section, depth int) error {
	for {
		t := p.peek()
		if t.kind != tName {
			return nil
		}
		p.next()
		switch op := p.next(); {
		case op.kind == tPunct && op.text == "=":
			v, err := p.value(0)
			if err != nil {
				return err
			}
			s.values[t.text] = v
		case op.kind == tPunct && op.text == "{":
			if depth >= maxDepth {
				return p.errorf("sections nested deeper than %d", maxDepth)
			}
			sub := &section{name: t.text, values: map[string]any{}}
			if err := p.items(sub, depth+1); err != nil {
				return err
			}
			if c := p.next(); c.kind != tPunct || c.text != "}" {
				return p.errorf("section %s: %s where } was expected", t.text, c)
			}
			s.subs = append(s.subs, sub)
		default:
			return p.errorf("after %s: %s where = or { was expected", t.text, op)
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return t.text, nil
	case t.kind == tNumber:
		if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return n, nil
		}
		f, _ := strconv.ParseFloat(t.text, 64)
		return f, nil
	case t.kind == tPunct && t.text == "[" && depth == 0:
		var list []any
		if c := p.peek(); c.kind == tPunct && c.text == "]" {
			p.next()
			return list, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			switch c := p.next(); {
			case c.kind == tPunct && c.text == "]":
				return list, nil
			case c.kind == tPunct && c.text == ",":
			default:
				return nil, p.errorf("%s in a list where , or ] was expected", c)
			}
		}
	}
	return nil, p.errorf("%s where a value was expected", t)
}

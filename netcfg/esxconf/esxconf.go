package esxconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits. A real esx.conf is tens of kilobytes; these bound memory on garbage.
const (
	MaxSize     = 16 << 20 // bytes read from one file (a real one is ~25 KB)
	MaxLineLen  = 64 << 10 // bytes in one line; longer lines are reported and skipped
	MaxProblems = 1000     // line errors kept; the rest are only counted
)

// Sentinel errors describing why a line was rejected or flagged.
var (
	ErrNoSeparator = errors.New(`no " = " between key and value`)
	ErrBadKey      = errors.New("key is not an absolute /path")
	ErrUnquoted    = errors.New("value is not enclosed in double quotes")
	ErrDuplicate   = errors.New("key repeated; the last value is kept")
	ErrLineTooLong = errors.New("line too long; skipped")
	ErrBackslash   = errors.New("value holds a backslash; kept verbatim (escaping rules unknown)")
	ErrBadIndex    = errors.New("array index is not four decimal digits")
	ErrNotUTF8     = errors.New("line is not valid UTF-8; kept byte for byte")
	ErrTooLarge    = errors.New("esx.conf larger than the size limit")
)

// Entry is one key/value line.
type Entry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Line  int    `json:"line"`
}

// LineError reports a line that was skipped or is suspicious. Skipped is
// false when the line was still stored (duplicates, backslashes, odd
// indices, invalid UTF-8).
type LineError struct {
	Line    int    // 1-based line number
	Offset  int64  // byte offset of the line's start
	Text    string // the line, cut to 200 bytes
	Err     error  // one of the sentinel errors above
	Skipped bool
}

func (e *LineError) Error() string {
	return fmt.Sprintf("esx.conf line %d (byte %d): %v: %q", e.Line, e.Offset, e.Err, e.Text)
}

func (e *LineError) Unwrap() error { return e.Err }

// File is a parsed esx.conf.
type File struct {
	Entries  []Entry // in file order, duplicates removed (last wins)
	Problems []*LineError
	// MoreProblems counts line errors beyond MaxProblems.
	MoreProblems int
	index        map[string]int
	sorted       []Entry // Entries by key, built on first query
}

// Parse reads an esx.conf. It returns an error only when reading fails or the
// input exceeds MaxSize; bad lines are collected in File.Problems.
func Parse(r io.Reader) (*File, error) {
	f := &File{index: map[string]int{}}
	br := bufio.NewReaderSize(io.LimitReader(r, MaxSize+1), 64<<10)
	var off int64
	for lineNo := 1; ; lineNo++ {
		line, n, tooLong, err := readLine(br)
		if n > 0 {
			f.parseLine(line, lineNo, off, tooLong)
		}
		off += n
		if off > MaxSize {
			return f, fmt.Errorf("esx.conf: %w (%d bytes)", ErrTooLarge, int64(MaxSize))
		}
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return f, fmt.Errorf("esx.conf: read at byte %d: %w", off, err)
		}
	}
}

// ParseString is Parse on an in-memory file.
func ParseString(s string) (*File, error) { return Parse(strings.NewReader(s)) }

// readLine returns one line without its terminator, the number of bytes
// consumed, and whether the line was cut at MaxLineLen.
func readLine(br *bufio.Reader) ([]byte, int64, bool, error) {
	var buf []byte
	var n int64
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if len(buf)+len(chunk) > MaxLineLen {
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return buf, n, tooLong, err
	}
}

func (f *File) problem(lineNo int, off int64, text []byte, err error, skipped bool) {
	if len(f.Problems) >= MaxProblems {
		f.MoreProblems++
		return
	}
	t := string(text)
	if len(t) > 200 {
		t = t[:200]
	}
	f.Problems = append(f.Problems, &LineError{Line: lineNo, Offset: off, Text: t, Err: err, Skipped: skipped})
}

func (f *File) parseLine(raw []byte, lineNo int, off int64, tooLong bool) {
	if tooLong {
		f.problem(lineNo, off, raw, ErrLineTooLong, true)
		return
	}
	line := strings.TrimRight(string(raw), "\r\n")
	if strings.TrimSpace(line) == "" {
		return
	}
	if !utf8.ValidString(line) {
		f.problem(lineNo, off, raw, ErrNotUTF8, false)
	}
	eq := strings.Index(line, "=")
	if eq < 0 {
		f.problem(lineNo, off, raw, ErrNoSeparator, true)
		return
	}
	key := strings.TrimSpace(line[:eq])
	rest := strings.TrimSpace(line[eq+1:])
	if !strings.HasPrefix(key, "/") || len(key) < 2 || strings.ContainsAny(key, "\"\t") {
		f.problem(lineNo, off, raw, ErrBadKey, true)
		return
	}
	first := strings.IndexByte(rest, '"')
	last := strings.LastIndexByte(rest, '"')
	if first != 0 || last == first || last != len(rest)-1 {
		f.problem(lineNo, off, raw, ErrUnquoted, true)
		return
	}
	value := rest[first+1 : last]
	if strings.Contains(value, `\`) {
		f.problem(lineNo, off, raw, ErrBackslash, false)
	}
	if !validIndices(key) {
		f.problem(lineNo, off, raw, ErrBadIndex, false)
	}
	if i, ok := f.index[key]; ok {
		f.problem(lineNo, off, raw, fmt.Errorf("%w (first on line %d)", ErrDuplicate, f.Entries[i].Line), false)
		f.Entries[i] = Entry{Key: key, Value: value, Line: lineNo}
		f.sorted = nil
		return
	}
	f.index[key] = len(f.Entries)
	f.Entries = append(f.Entries, Entry{Key: key, Value: value, Line: lineNo})
	f.sorted = nil
}

// validIndices reports whether every [..] in key holds exactly four digits.
func validIndices(key string) bool {
	for {
		i := strings.IndexByte(key, '[')
		if i < 0 {
			return !strings.Contains(key, "]")
		}
		j := strings.IndexByte(key[i:], ']')
		if j != 5 {
			return false
		}
		for _, c := range key[i+1 : i+5] {
			if c < '0' || c > '9' {
				return false
			}
		}
		key = key[i+j+1:]
	}
}

// Get returns the value of key.
func (f *File) Get(key string) (string, bool) {
	i, ok := f.index[key]
	if !ok {
		return "", false
	}
	return f.Entries[i].Value, true
}

// Entry returns the entry of key.
func (f *File) Entry(key string) (Entry, bool) {
	i, ok := f.index[key]
	if !ok {
		return Entry{}, false
	}
	return f.Entries[i], true
}

// sortedEntries returns the entries ordered by key, computed once.
func (f *File) sortedEntries() []Entry {
	if f.sorted == nil || len(f.sorted) != len(f.Entries) {
		f.sorted = append(make([]Entry, 0, len(f.Entries)), f.Entries...)
		sort.Slice(f.sorted, func(i, j int) bool { return f.sorted[i].Key < f.sorted[j].Key })
	}
	return f.sorted
}

// withPrefix returns the entries whose key starts with p, sorted by key,
// by binary search: callers query per object, so a linear scan each time
// would make a large file quadratic.
func (f *File) withPrefix(p string) []Entry {
	s := f.sortedEntries()
	lo := sort.Search(len(s), func(i int) bool { return s[i].Key >= p })
	hi := lo
	for hi < len(s) && strings.HasPrefix(s[hi].Key, p) {
		hi++
	}
	return s[lo:hi]
}

// Under returns the entries whose key starts with prefix + "/", sorted by key.
func (f *File) Under(prefix string) []Entry {
	return append([]Entry(nil), f.withPrefix(strings.TrimSuffix(prefix, "/")+"/")...)
}

// Indexed returns the paths of the array elements name[NNNN] directly under
// prefix (for example Indexed("/net/vswitch", "child") gives
// "/net/vswitch/child[0000]", ...), sorted by numeric index. Elements with
// malformed indices are included, after the well-formed ones.
func (f *File) Indexed(prefix, name string) []string {
	p := strings.TrimSuffix(prefix, "/") + "/" + name + "["
	var out []string
	last := ""
	for _, e := range f.withPrefix(p) {
		end := strings.IndexByte(e.Key[len(p):], ']')
		if end < 0 {
			continue
		}
		if k := e.Key[:len(p)+end+1]; k != last {
			out = append(out, k)
			last = k
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, aerr := strconv.Atoi(out[i][len(p) : len(out[i])-1])
		b, berr := strconv.Atoi(out[j][len(p) : len(out[j])-1])
		switch {
		case aerr == nil && berr == nil && a != b:
			return a < b
		case (aerr == nil) != (berr == nil):
			return aerr == nil
		}
		return out[i] < out[j]
	})
	return dedupe(out)
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Names returns the distinct path elements directly under prefix, sorted
// (for example Names("/nas") gives the NFS datastore labels).
func (f *File) Names(prefix string) []string {
	p := strings.TrimSuffix(prefix, "/") + "/"
	var out []string
	last := ""
	for _, e := range f.withPrefix(p) {
		rest := e.Key[len(p):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		if rest != "" && rest != last {
			out = append(out, rest)
			last = rest
		}
	}
	out = dedupe(out)
	sort.Strings(out)
	return out
}

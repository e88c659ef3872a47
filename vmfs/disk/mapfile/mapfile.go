package mapfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Status is the state of a block of the source.
type Status byte

// Block statuses, as GNU ddrescue writes them.
const (
	NonTried   Status = '?'
	NonTrimmed Status = '*'
	NonScraped Status = '/'
	BadSector  Status = '-'
	Finished   Status = '+'
)

// Phase is the step of a rescue the status line names.
type Phase byte

// Phases, as GNU ddrescue writes them on the status line.
const (
	Copying    Phase = '?'
	Trimming   Phase = '*'
	Scraping   Phase = '/'
	Retrying   Phase = '-'
	Filling    Phase = 'F'
	Generating Phase = 'G'
	Done       Phase = '+'
)

// Block is a run of the source with one status.
type Block struct {
	Pos    int64
	Size   int64
	Status Status
}

// End is the offset just past the block.
func (b Block) End() int64 { return b.Pos + b.Size }

// Map is a parsed mapfile: the status line and the blocks, sorted and
// contiguous, merged where neighbours share a status.
type Map struct {
	Pos    int64 // current_pos: where the rescue was
	Phase  Phase // current_status
	Pass   int   // current_pass (1 when the file has none, as before ddrescue 1.20)
	Blocks []Block
}

// MaxBlocks bounds the blocks a mapfile may hold: a hostile or corrupt
// file cannot make Parse take more than about 24 MiB.
const MaxBlocks = 1 << 20

// maxLine bounds a line of a mapfile.
const maxLine = 4096

// New returns the map of a rescue that has not started: [0, size) non-tried.
func New(size int64) *Map {
	m := &Map{Phase: Copying, Pass: 1}
	if size > 0 {
		m.Blocks = []Block{{0, size, NonTried}}
	}
	return m
}

// SyntaxError is a line of a mapfile that cannot be read.
type SyntaxError struct {
	Line int
	Text string
	Err  error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("mapfile line %d: %v: %q", e.Line, e.Err, e.Text)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// ErrInvalid classes every error in a mapfile's content.
var ErrInvalid = errors.New("not a valid ddrescue mapfile")

// Parse reads a mapfile. An empty file (or one of comments only) is an
// empty map, as GNU ddrescue takes it.
func Parse(r io.Reader) (*Map, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	m := &Map{Phase: Copying, Pass: 1}
	status := false
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(stripComment(sc.Text()))
		if len(fields) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return &SyntaxError{Line: n, Text: sc.Text(), Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)}
		}
		if !status {
			if len(fields) < 2 || len(fields) > 3 {
				return nil, fail("status line needs position, status and pass")
			}
			pos, err := parseInt(fields[0])
			if err != nil {
				return nil, fail("position: %v", err)
			}
			if len(fields[1]) != 1 || !strings.ContainsRune("?*/-FG+", rune(fields[1][0])) {
				return nil, fail("unknown phase %q", fields[1])
			}
			m.Pos, m.Phase = pos, Phase(fields[1][0])
			if len(fields) == 3 {
				pass, err := strconv.Atoi(fields[2])
				if err != nil || pass < 1 {
					return nil, fail("pass %q is not a positive decimal integer", fields[2])
				}
				m.Pass = pass
			}
			status = true
			continue
		}
		if len(fields) != 3 {
			return nil, fail("a block needs position, size and status")
		}
		pos, err := parseInt(fields[0])
		if err != nil {
			return nil, fail("position: %v", err)
		}
		size, err := parseInt(fields[1])
		if err != nil || size == 0 {
			return nil, fail("size %q is not a positive integer", fields[1])
		}
		if pos > math.MaxInt64-size {
			return nil, fail("block ends past the largest offset")
		}
		if len(fields[2]) != 1 || !strings.ContainsRune("?*/-+", rune(fields[2][0])) {
			return nil, fail("unknown block status %q", fields[2])
		}
		if k := len(m.Blocks); k > 0 && m.Blocks[k-1].End() != pos {
			return nil, fail("block does not start where the one before ends (0x%X)", m.Blocks[k-1].End())
		}
		if len(m.Blocks) == MaxBlocks {
			return nil, fail("more than %d blocks", MaxBlocks)
		}
		m.Blocks = append(m.Blocks, Block{pos, size, Status(fields[2][0])})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrInvalid, maxLine)
		}
		return nil, err
	}
	m.merge(0, len(m.Blocks))
	return m, nil
}

// stripComment drops a '#' at the start of the line or after white space,
// and what follows it.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// parseInt reads a non-negative C integer constant.
func parseInt(s string) (int64, error) {
	if strings.ContainsRune(s, '_') {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return v, nil
}

// Start and End are the first byte the map describes and the byte past
// its last block.
func (m *Map) Start() int64 {
	if len(m.Blocks) == 0 {
		return 0
	}
	return m.Blocks[0].Pos
}

func (m *Map) End() int64 {
	if len(m.Blocks) == 0 {
		return 0
	}
	return m.Blocks[len(m.Blocks)-1].End()
}

// Resize makes the map describe [0, size): a part the map did not cover
// becomes non-tried, a part past size is dropped (GNU ddrescue writes a
// huge last block when it does not know the input's size).
func (m *Map) Resize(size int64) {
	if start := m.Start(); start > 0 {
		m.Blocks = append([]Block{{0, start, NonTried}}, m.Blocks...)
	}
	if end := m.End(); end < size {
		m.Blocks = append(m.Blocks, Block{end, size - end, NonTried})
	}
	i := sort.Search(len(m.Blocks), func(i int) bool { return m.Blocks[i].End() >= size })
	if i < len(m.Blocks) {
		m.Blocks = m.Blocks[:i+1]
		m.Blocks[i].Size = size - m.Blocks[i].Pos
		if m.Blocks[i].Size <= 0 {
			m.Blocks = m.Blocks[:i]
		}
	}
	m.merge(0, len(m.Blocks))
}

// Fit makes the map describe a source of size bytes, as Resize does, but
// refuses a map that describes more bytes than the source has (the map of
// another disk), unless its last block is the huge one GNU ddrescue
// writes when it does not know the input's size.
func (m *Map) Fit(size int64) error {
	if end := m.End(); end > size && end < 1<<62 {
		return fmt.Errorf("the mapfile describes %d bytes, the source has %d: is it the map of another disk?", end, size)
	}
	m.Resize(size)
	return nil
}

// ReadFile reads the mapfile at path and fits it to a source of size bytes
// (see Fit; an empty mapfile describes a rescue not started). Errors name
// path.
func ReadFile(path string, size int64) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(bytes.NewReader(data))
	if err == nil {
		err = m.Fit(size)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Set gives [pos, pos+size) the status st, inside what the map covers.
func (m *Map) Set(pos, size int64, st Status) {
	end := min(pos+size, m.End())
	pos = max(pos, m.Start())
	if pos >= end {
		return
	}
	// Blocks i..j-1 overlap [pos, end).
	i := sort.Search(len(m.Blocks), func(k int) bool { return m.Blocks[k].End() > pos })
	j := sort.Search(len(m.Blocks), func(k int) bool { return m.Blocks[k].Pos >= end })
	var repl []Block
	if first := m.Blocks[i]; first.Pos < pos {
		repl = append(repl, Block{first.Pos, pos - first.Pos, first.Status})
	}
	repl = append(repl, Block{pos, end - pos, st})
	if last := m.Blocks[j-1]; last.End() > end {
		repl = append(repl, Block{end, last.End() - end, last.Status})
	}
	m.Blocks = append(m.Blocks[:i], append(repl, m.Blocks[j:]...)...)
	m.merge(max(i-1, 0), min(i+len(repl)+1, len(m.Blocks)))
}

// merge joins neighbours of the same status among Blocks[i:j].
func (m *Map) merge(i, j int) {
	if j-i < 2 {
		return
	}
	out := m.Blocks[:i+1]
	for _, b := range m.Blocks[i+1 : j] {
		if last := &out[len(out)-1]; last.Status == b.Status {
			last.Size += b.Size
			continue
		}
		out = append(out, b)
	}
	m.Blocks = append(out, m.Blocks[j:]...)
}

// Next returns the first block at or after pos whose status is st, cut to
// start at pos.
func (m *Map) Next(st Status, pos int64) (Block, bool) {
	i := sort.Search(len(m.Blocks), func(k int) bool { return m.Blocks[k].End() > pos })
	for ; i < len(m.Blocks); i++ {
		if b := m.Blocks[i]; b.Status == st {
			if b.Pos < pos {
				b.Size -= pos - b.Pos
				b.Pos = pos
			}
			return b, true
		}
	}
	return Block{}, false
}

// At is the status of the byte at off; NonTried outside the map.
func (m *Map) At(off int64) Status {
	i := sort.Search(len(m.Blocks), func(k int) bool { return m.Blocks[k].End() > off })
	if i == len(m.Blocks) || m.Blocks[i].Pos > off {
		return NonTried
	}
	return m.Blocks[i].Status
}

// Total is the number of bytes with status st.
func (m *Map) Total(st Status) int64 {
	var n int64
	for _, b := range m.Blocks {
		if b.Status == st {
			n += b.Size
		}
	}
	return n
}

// Lost returns the ranges whose bytes the image does not hold: every block
// not finished.
func (m *Map) Lost() allocmap.Map {
	var out allocmap.Map
	for _, b := range m.Blocks {
		if b.Status != Finished {
			out = out.Add(allocmap.Range{Off: b.Pos, Len: b.Size})
		}
	}
	return out
}

// Header is what WriteTo puts in the heading comments.
type Header struct {
	Program     string // "vmfsrecover 1.2.3"
	CommandLine string
	StartTime   string // 2006-01-02 15:04:05, as ddrescue writes it
	CurrentTime string
}

// Write writes the map in GNU ddrescue's layout.
func (m *Map) Write(w io.Writer, h Header) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Mapfile. Created by %s\n", h.Program)
	if h.CommandLine != "" {
		fmt.Fprintf(bw, "# Command line: %s\n", strings.ReplaceAll(h.CommandLine, "\n", " "))
	}
	if h.StartTime != "" {
		fmt.Fprintf(bw, "# Start time:   %s\n", h.StartTime)
	}
	if h.CurrentTime != "" {
		fmt.Fprintf(bw, "# Current time: %s\n", h.CurrentTime)
	}
	fmt.Fprintf(bw, "# %s\n", m.Phase)
	fmt.Fprintf(bw, "# current_pos  current_status  current_pass\n")
	fmt.Fprintf(bw, "0x%08X     %c               %d\n", m.Pos, m.Phase, max(m.Pass, 1))
	fmt.Fprintf(bw, "#      pos        size  status\n")
	for _, b := range m.Blocks {
		fmt.Fprintf(bw, "0x%08X  0x%08X  %c\n", b.Pos, b.Size, b.Status)
	}
	return bw.Flush()
}

// String says what the phase is doing, as the mapfile's comment does.
func (p Phase) String() string {
	switch p {
	case Copying:
		return "Copying non-tried blocks..."
	case Trimming:
		return "Trimming failed blocks..."
	case Scraping:
		return "Scraping failed blocks..."
	case Retrying:
		return "Retrying bad sectors..."
	case Filling:
		return "Filling specified blocks..."
	case Generating:
		return "Generating approximate mapfile..."
	case Done:
		return "Finished"
	}
	return "Unknown phase " + strconv.Quote(string(p))
}

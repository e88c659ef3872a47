package mapfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// manualExample is the example mapfile of the GNU ddrescue manual
// (section "Mapfile structure").
const manualExample = `# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue -d -c18 /dev/fd0 fdimage mapfile
# Start time:   2015-07-21 09:37:44
# Current time: 2015-07-21 09:38:19
# Copying non-tried blocks... Pass 1 (forwards)
# current_pos  current_status  current_pass
0x00120000     ?               1
#      pos        size  status
0x00000000  0x00117000  +
0x00117000  0x00000200  -
0x00117200  0x00001000  /
0x00118200  0x00007E00  *
0x00120000  0x00048000  ?
`

func TestParseManualExample(t *testing.T) {
	m, err := Parse(strings.NewReader(manualExample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{0, 0x117000, Finished},
		{0x117000, 0x200, BadSector},
		{0x117200, 0x1000, NonScraped},
		{0x118200, 0x7E00, NonTrimmed},
		{0x120000, 0x48000, NonTried},
	}
	if m.Pos != 0x120000 || m.Phase != Copying || m.Pass != 1 || !reflect.DeepEqual(m.Blocks, want) {
		t.Fatalf("parsed %+v", m)
	}
	lost := m.Lost()
	if !reflect.DeepEqual(lost, allocmap.Map{{Off: 0x117000, Len: 0x168000 - 0x117000}}) {
		t.Errorf("lost = %v", lost)
	}
	if got := m.Total(Finished); got != 0x117000 {
		t.Errorf("finished = %d", got)
	}
}

func TestParseFormsAndErrors(t *testing.T) {
	// Decimal, octal, a comment after white space, no pass (before 1.20).
	m, err := Parse(strings.NewReader("0 + # done\n0 512 +\n512 01000 -  # bad\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Phase != Done || m.Pass != 1 || len(m.Blocks) != 2 || m.Blocks[1].Size != 512 {
		t.Errorf("parsed %+v", m)
	}
	empty, err := Parse(strings.NewReader("# nothing yet\n"))
	if err != nil || len(empty.Blocks) != 0 {
		t.Errorf("comments only: %+v, %v", empty, err)
	}
	for name, text := range map[string]string{
		"gap":          "0 ?\n0 512 +\n1024 512 -\n",
		"overlap":      "0 ?\n0 512 +\n256 512 -\n",
		"status":       "0 ?\n0 512 x\n",
		"phase":        "0 Z\n",
		"zero size":    "0 ?\n0 0 +\n",
		"negative":     "0 ?\n-512 512 +\n",
		"pass":         "0 ? 0x1\n",
		"fields":       "0 ?\n0 512\n",
		"garbage":      "hello world again and again\n",
		"overflow":     "0 ?\n0x7000000000000000 0x1000000000000000 +\n",
		"underscore":   "0 ?\n0 1_000 +\n",
		"long line":    "0 ?\n" + strings.Repeat("0", 5000) + " 1 +\n",
		"not a number": "0 ?\n0x 512 +\n",
	} {
		_, err := Parse(strings.NewReader(text))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	var se *SyntaxError
	if _, err := Parse(strings.NewReader("0 ?\n0 512 +\n1024 512 -\n")); !errors.As(err, &se) || se.Line != 3 {
		t.Errorf("error does not name line 3: %v", err)
	}
}

func TestSetSplitsAndMerges(t *testing.T) {
	m := New(4096)
	m.Set(1024, 1024, Finished)
	m.Set(0, 1024, Finished)
	m.Set(3000, 5000, BadSector) // clipped at the end
	m.Set(2048, 952, Finished)
	want := []Block{{0, 3000, Finished}, {3000, 1096, BadSector}}
	if !reflect.DeepEqual(m.Blocks, want) {
		t.Fatalf("blocks %+v", m.Blocks)
	}
	if b, ok := m.Next(BadSector, 3500); !ok || b != (Block{3500, 596, BadSector}) {
		t.Errorf("Next = %+v %v", b, ok)
	}
	if _, ok := m.Next(NonTried, 0); ok {
		t.Errorf("Next found a non-tried block")
	}
}

func TestResize(t *testing.T) {
	m, err := Parse(strings.NewReader("0 ?\n0x200 0x200 +\n0x400 0x7FFFFFFFFFFFFBFF ?\n"))
	if err != nil {
		t.Fatal(err)
	}
	m.Resize(0x1000)
	want := []Block{{0, 0x200, NonTried}, {0x200, 0x200, Finished}, {0x400, 0xC00, NonTried}}
	if !reflect.DeepEqual(m.Blocks, want) {
		t.Fatalf("blocks %+v", m.Blocks)
	}
	m.Resize(0x300)
	if want := []Block{{0, 0x200, NonTried}, {0x200, 0x100, Finished}}; !reflect.DeepEqual(m.Blocks, want) {
		t.Fatalf("shrunk %+v", m.Blocks)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	m, _ := Parse(strings.NewReader(manualExample))
	var buf bytes.Buffer
	if err := m.Write(&buf, Header{Program: "vmfsrecover test", CommandLine: "vmfsrecover image a -o b --map c"}); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip:\n%+v\n%+v", back, m)
	}
}

// TestDdrescuelogAcceptsOurs: GNU ddrescuelog reads a mapfile we wrote and
// finds the same bad-sector and finished blocks.
func TestDdrescuelogAcceptsOurs(t *testing.T) {
	testenv.Tool(t, "ddrescuelog")
	m := New(1 << 20)
	m.Set(0, 300<<10, Finished)
	m.Set(300<<10, 4096, BadSector)
	m.Set(400<<10, 8192, NonScraped)
	m.Set(500<<10, 500<<10, Finished)
	m.Pos, m.Phase = 400<<10, Scraping
	path := filepath.Join(t.TempDir(), "map")
	var buf bytes.Buffer
	if err := m.Write(&buf, Header{Program: "vmfsrecover test"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ddrescuelog", "-b512", "--list-blocks=-", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ddrescuelog rejects our mapfile: %v\n%s", err, out)
	}
	// --list-blocks prints sector numbers, one a line.
	if got := strings.Fields(string(out)); len(got) != 8 || got[0] != "600" || got[7] != "607" {
		t.Errorf("bad sectors listed by ddrescuelog: %v", got)
	}
	out, err = exec.Command("ddrescuelog", "-b512", "--list-blocks=+", path).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); int64(len(got)) != m.Total(Finished)/512 {
		t.Errorf("ddrescuelog lists %d finished sectors, we have %d", len(got), m.Total(Finished)/512)
	}
}

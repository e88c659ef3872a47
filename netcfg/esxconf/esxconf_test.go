package esxconf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sample1 is the vSwitch excerpt of the documentation's sample 1 (5.x),
// shortened, with a port-group name that looks like a number.
const sample1 = `/net/vswitch/child[0000]/name = "vSwitch0"
/net/vswitch/child[0000]/numPorts = "128"
/net/vswitch/child[0000]/portgroup/child[0000]/name = "Management Network"
/net/vswitch/child[0000]/portgroup/child[0001]/name = "10"
/net/vswitch/child[0000]/portgroup/child[0001]/vlanId = "010"
/net/vswitch/child[0000]/teamPolicy/uplinks[0001]/pnic = "vmnic1"
/net/vswitch/child[0000]/teamPolicy/uplinks[0000]/pnic = "vmnic0"
/net/vswitch/child[0010]/name = "vSwitch2"
/net/vswitch/child[0002]/name = "vSwitch1"
`

func TestParseKeepsValuesAsStrings(t *testing.T) {
	f, err := ParseString(sample1)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Problems) != 0 {
		t.Fatalf("problems: %v", f.Problems)
	}
	if v, _ := f.Get("/net/vswitch/child[0000]/portgroup/child[0001]/vlanId"); v != "010" {
		t.Errorf("vlanId = %q, want %q", v, "010")
	}
	if v, _ := f.Get("/net/vswitch/child[0000]/portgroup/child[0000]/name"); v != "Management Network" {
		t.Errorf("name = %q", v)
	}
	e, ok := f.Entry("/net/vswitch/child[0002]/name")
	if !ok || e.Line != 9 || e.Value != "vSwitch1" {
		t.Errorf("entry = %+v, %v", e, ok)
	}
	if _, ok := f.Get("/net/vswitch/child[0003]/name"); ok {
		t.Error("absent key reported present")
	}
}

func TestIndexedSortsNumerically(t *testing.T) {
	f, _ := ParseString(sample1)
	got := f.Indexed("/net/vswitch", "child")
	want := []string{"/net/vswitch/child[0000]", "/net/vswitch/child[0002]", "/net/vswitch/child[0010]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Indexed = %v, want %v", got, want)
	}
	got = f.Indexed("/net/vswitch/child[0000]/teamPolicy", "uplinks")
	want = []string{"/net/vswitch/child[0000]/teamPolicy/uplinks[0000]", "/net/vswitch/child[0000]/teamPolicy/uplinks[0001]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Indexed uplinks = %v, want %v", got, want)
	}
	if n := len(f.Under("/net/vswitch/child[0000]/portgroup")); n != 3 {
		t.Errorf("Under = %d entries, want 3", n)
	}
	if got := f.Names("/net/vswitch/child[0000]"); !reflect.DeepEqual(got, []string{"name", "numPorts", "portgroup", "teamPolicy"}) {
		t.Errorf("Names = %v", got)
	}
}

func TestBadLinesReportedAndSkipped(t *testing.T) {
	in := strings.Join([]string{
		`/a/ok = "1"`,             // 1
		`no separator here`,       // 2
		`relative/key = "x"`,      // 3
		`/b = unquoted`,           // 4
		``,                        // 5 blank: ignored
		`/c = "one"`,              // 6
		`/c = "two"`,              // 7 duplicate
		`/d = "C:\temp"`,          // 8 backslash kept
		`/e/child[12]/name = "x"`, // 9 bad index kept
		`/f = "say "hi" twice"`,   // 10 inner quotes: first..last
		`/g = "trailing" junk`,    // 11
		"/h = \"crlf\"\r",         // 12
		`/i = "` + strings.Repeat("x", MaxLineLen) + `"`, // 13
		`/j = "after the long line"`,                     // 14
	}, "\n")
	f, err := ParseString(in)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		line    int
		err     error
		skipped bool
	}
	wants := []want{
		{2, ErrNoSeparator, true}, {3, ErrBadKey, true}, {4, ErrUnquoted, true},
		{7, ErrDuplicate, false}, {8, ErrBackslash, false}, {9, ErrBadIndex, false},
		{11, ErrUnquoted, true}, {13, ErrLineTooLong, true},
	}
	if len(f.Problems) != len(wants) {
		t.Fatalf("got %d problems, want %d: %v", len(f.Problems), len(wants), f.Problems)
	}
	for i, w := range wants {
		p := f.Problems[i]
		if p.Line != w.line || !errors.Is(p, w.err) || p.Skipped != w.skipped {
			t.Errorf("problem %d = line %d %v skipped=%v; want line %d %v skipped=%v", i, p.Line, p.Err, p.Skipped, w.line, w.err, w.skipped)
		}
	}
	checks := map[string]string{"/a/ok": "1", "/c": "two", "/d": `C:\temp`, "/f": `say "hi" twice`, "/h": "crlf", "/j": "after the long line"}
	for k, v := range checks {
		if got, ok := f.Get(k); !ok || got != v {
			t.Errorf("%s = %q, %v; want %q", k, got, ok, v)
		}
	}
	if e, _ := f.Entry("/c"); e.Line != 7 {
		t.Errorf("duplicate kept line %d, want 7", e.Line)
	}
	if f.Problems[0].Offset != int64(len(`/a/ok = "1"`)+1) {
		t.Errorf("offset of line 2 = %d", f.Problems[0].Offset)
	}
}

func TestProblemsBounded(t *testing.T) {
	f, err := ParseString(strings.Repeat("junk\n", MaxProblems+5) + `/ok = "1"` + "\n")
	if err != nil || len(f.Problems) != MaxProblems || f.MoreProblems != 5 {
		t.Fatalf("%d problems, %d more, %v", len(f.Problems), f.MoreProblems, err)
	}
	if v, _ := f.Get("/ok"); v != "1" {
		t.Error("line after the problems lost")
	}
}

func TestEmptyFile(t *testing.T) {
	f, err := ParseString("")
	if err != nil || len(f.Entries) != 0 || len(f.Problems) != 0 {
		t.Fatalf("empty: %+v %v", f, err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
		if i%100 == 99 {
			p[i] = '\n'
		}
	}
	return len(p), nil
}

func TestSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 16 MiB")
	}
	_, err := Parse(endless{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestNamesAndIndexedAcrossKeyOrder(t *testing.T) {
	// "/nas/a.b" sorts between "/nas/a" and "/nas/a/...": names must still
	// come out once each, in name order.
	f, _ := ParseString("/nas/a = \"1\"\n/nas/a.b/host = \"2\"\n/nas/a/host = \"3\"\n/x/child[0001]/a = \"\"\n/x/child[0001].z = \"\"\n/x/child[0001]/b = \"\"\n")
	if got := f.Names("/nas"); !reflect.DeepEqual(got, []string{"a", "a.b"}) {
		t.Errorf("Names = %v", got)
	}
	if got := f.Indexed("/x", "child"); !reflect.DeepEqual(got, []string{"/x/child[0001]"}) {
		t.Errorf("Indexed = %v", got)
	}
}

package vmfstest

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSpecErrors: every spec the formats cannot hold is refused with an
// error naming the entry, before anything is written.
func TestSpecErrors(t *testing.T) {
	cases := []struct {
		name    string
		spec    Spec
		want    string
		tooBig  bool
		written bool
	}{
		{"version", Spec{Version: 7}, "unsupported VMFS version 7", false, false},
		{"vmfs5 block size", Spec{Version: 5, BlockSize: 3 * mib}, "block size", false, false},
		{"vmfs6 block size", Spec{Version: 6, BlockSize: 8 * mib}, "must be 1 MiB", false, false},
		{"partition", Spec{Version: 5, Partition: "apm"}, `unknown partition scheme "apm"`, false, false},
		{"extents", Spec{Version: 5, Extents: 99}, "99 extents", false, false},
		{"duplicate", Spec{Version: 5, Files: []Entry{{Path: "a"}, {Path: "/a/"}}}, `duplicate path "/a/"`, false, false},
		{"parent is a file", Spec{Version: 5, Files: []Entry{{Path: "a"}, {Path: "a/b"}}}, `"a" is a parent but not a directory`, false, false},
		{"dot path", Spec{Version: 5, Files: []Entry{{Path: "a/../b"}}}, "invalid path", false, false},
		{"system name", Spec{Version: 6, Files: []Entry{{Path: ".fdc.sf"}}}, "system file", false, false},
		{"symlink", Spec{Version: 5, Files: []Entry{{Path: "l", Kind: Symlink}}}, `symlink "l" has no target`, false, false},
		{"thin and thick", Spec{Version: 5, Files: []Entry{{Path: "x", Size: 9, Thin: true, ZeroedThick: true}}}, "exclude each other", false, false},
		{"size vs data", Spec{Version: 5, Files: []Entry{{Path: "x", Size: 9, Data: []byte("abc")}}}, "differs from len(Data)", false, false},
		{"name too long", Spec{Version: 5, Files: []Entry{{Path: strings.Repeat("n", 129)}}}, "longer than 128 bytes", true, false},
		{"resident too big", Spec{Version: 5, Files: []Entry{{Path: "r", Size: 1025, Addressing: Resident}}}, "r: 1025 bytes do not fit resident", true, false},
		{"resident dir", Spec{Version: 6, Files: []Entry{{Path: "d", Kind: Dir, Addressing: Resident}}}, "cannot be resident", false, false},
		{"lfb on vmfs5", Spec{Version: 5, Files: []Entry{{Path: "l", Size: 5, Addressing: LargeBlocks}}}, "VMFS6 only", false, false},
		{"at end with large blocks", Spec{Version: 6, Files: []Entry{{Path: "l", Size: 5, Addressing: LargeBlocks, AtEnd: true}}}, "AtEnd does not apply", false, false},
		{"vmfs5 device past 16 TiB", Spec{Version: 5, Size: 17 << 40}, "PE maps", true, false},
		{"deleted parent", Spec{Version: 5, Files: []Entry{{Path: "d", Kind: Dir, Deleted: true}, {Path: "d/f"}}}, "lies in a deleted directory", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.img")
			_, err := Write(img, c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, c.want)
			}
			if errors.Is(err, ErrTooBig) != c.tooBig {
				t.Errorf("errors.Is(err, ErrTooBig) = %v, want %v", !c.tooBig, c.tooBig)
			}
			if _, serr := filepath.Glob(img); serr != nil {
				t.Fatal(serr)
			}
			if m, _ := filepath.Glob(img); len(m) != 0 {
				t.Errorf("refused spec still created %s", img)
			}
		})
	}
}

// TestSpecJSON: specs round-trip through JSON with kinds and addressing
// modes by name (mkvmfs -spec reads them).
func TestSpecJSON(t *testing.T) {
	in := Spec{Version: 6, Label: "j", Files: []Entry{
		{Path: "a", Kind: Symlink, Target: "b"},
		{Path: "d", Kind: Dir},
		{Path: "f", Size: 10, Addressing: LargeBlocks, Holes: []Range{{Off: 1, Len: 2}}},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Kind":"symlink"`, `"Kind":"dir"`, `"Addressing":"largeblocks"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	var out Spec
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip: %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"Files":[{"Kind":"fifo"}]}`), &out); err == nil || !strings.Contains(err.Error(), `unknown kind "fifo"`) {
		t.Errorf("bad kind: %v", err)
	}
}

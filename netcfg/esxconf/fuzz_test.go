package esxconf

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(sample1)
	f.Add("/a = \"b\"\n/a = \"c\"\nbad\n/x/child[1]/y = \"\\\\\"\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		file, err := ParseString(in)
		if err != nil {
			t.Fatalf("in-memory parse failed: %v", err)
		}
		lines := strings.Count(in, "\n") + 1
		for _, p := range file.Problems {
			if p.Line < 1 || p.Line > lines || p.Offset < 0 || p.Offset > int64(len(in)) {
				t.Fatalf("problem outside input: %+v", p)
			}
		}
		for _, e := range file.Entries {
			if v, ok := file.Get(e.Key); !ok || v != e.Value {
				t.Fatalf("index out of step for %q", e.Key)
			}
			if !strings.HasPrefix(e.Key, "/") {
				t.Fatalf("stored key %q is not absolute", e.Key)
			}
		}
		file.Indexed("/net/vswitch", "child")
		file.Names("/")
	})
}

package export

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a/b", "nul\x00", "\x1b[31m", ManifestName, ".vmfsrecover-0123456789abcdef.part", strings.Repeat("é", 300), "\xff\xfe", "ok.vmdk"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s := SafeName(name)
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") || len(s) > maxNameLen || !utf8.ValidString(s) {
			t.Fatalf("SafeName(%q) = %q is not safe", name, s)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("SafeName(%q) = %q holds a control character", name, s)
			}
		}
		if isReserved(s) {
			t.Fatalf("SafeName(%q) = %q is reserved", name, s)
		}
		if SafeName(s) != s {
			t.Fatalf("SafeName not idempotent: %q -> %q -> %q", name, s, SafeName(s))
		}
		if !validDest("d/" + s) {
			t.Fatalf("%q not a valid destination component", s)
		}
	})
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"source":"a","dest":"a","kind":"file","size":1,"sha256":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","status":"exported"}` + "\n"))
	f.Add([]byte("{\"dest\":\"../x\",\"status\":\"exported\"}\n\n{}"))
	f.Add(encodeManifest([]Entry{{Source: "\xff", SourceHex: "ff", Dest: "_", Kind: KindDir, Status: StatusDir}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ReadManifest(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range es {
			if !validDest(e.Dest) {
				t.Fatalf("accepted dest %q", e.Dest)
			}
		}
		again, err := ReadManifest(bytes.NewReader(encodeManifest(es)))
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-encoded manifest: %v, %d entries, want %d", err, len(again), len(es))
		}
	})
}

func FuzzParseNetrc(f *testing.F) {
	f.Add("machine h login u password p\ndefault login a password b\n")
	f.Add("macdef x\nline\n\nmachine h password p")
	f.Fuzz(func(t *testing.T, s string) {
		es, err := parseNetrc(strings.NewReader(s))
		if err == nil {
			lookupNetrc(es, "h", "u")
		}
	})
}

package mapfile

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: whatever Parse accepts is sorted, contiguous and merged, and
// writes back to a mapfile that parses to the same map.
func FuzzParse(f *testing.F) {
	f.Add(manualExample)
	f.Add("0 + 2\n0 512 +\n512 512 -\n")
	f.Add("0x10 / # x\n0x10 0x20 /\n0x30 0x10 ?\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		for i, b := range m.Blocks {
			if b.Size <= 0 || i > 0 && (m.Blocks[i-1].End() != b.Pos || m.Blocks[i-1].Status == b.Status) {
				t.Fatalf("block %d %+v not contiguous, positive and merged: %+v", i, b, m.Blocks)
			}
		}
		var buf bytes.Buffer
		if err := m.Write(&buf, Header{Program: "fuzz"}); err != nil {
			t.Fatal(err)
		}
		back, err := Parse(&buf)
		if err != nil {
			t.Fatalf("our own output does not parse: %v\n%s", err, buf.String())
		}
		if !reflect.DeepEqual(back.Blocks, m.Blocks) || back.Pos != m.Pos || back.Phase != m.Phase || back.Pass != m.Pass {
			t.Fatalf("round trip differs:\n%+v\n%+v", back, m)
		}
	})
}

// FuzzSet checks Set against a byte-per-byte model of a small disk.
func FuzzSet(f *testing.F) {
	f.Add([]byte{0, 10, '+', 5, 20, '-', 3, 2, '/'})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const size = 64
		m := New(size)
		model := bytes.Repeat([]byte{byte(NonTried)}, size)
		statuses := []Status{NonTried, NonTrimmed, NonScraped, BadSector, Finished}
		for len(ops) >= 3 {
			pos, n, st := int64(ops[0]%80), int64(ops[1]%80), statuses[int(ops[2])%len(statuses)]
			ops = ops[3:]
			m.Set(pos, n, st)
			for i := pos; i < min(pos+n, size); i++ {
				model[i] = byte(st)
			}
		}
		got := make([]byte, 0, size)
		for i, b := range m.Blocks {
			if i > 0 && m.Blocks[i-1].Status == b.Status {
				t.Fatalf("neighbours not merged: %+v", m.Blocks)
			}
			got = append(got, bytes.Repeat([]byte{byte(b.Status)}, int(b.Size))...)
		}
		if !bytes.Equal(got, model) {
			t.Fatalf("map %q, model %q", got, model)
		}
	})
}

package wizard

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func FuzzLoadAnswers(f *testing.F) {
	f.Add([]byte(`{"sources": ["a.img"], "scan": "auto", "volume": 2, "filter": "disks", "select": ["*"], "destination": {"local": "/x", "verify": false}}`))
	f.Add([]byte(`{"destination": {"ftp": "ftp://u@h/"}, "preview": ["/a"], "force": true}`))
	f.Add([]byte(`{"filter": "vms", "open": ["vm1", "vm1.vmdk", "..", "p1"], "select": ["a.txt"]}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := LoadAnswers(bytes.NewReader(b))
		if err != nil {
			return
		}
		d := answerDestination(a)
		if d.Kind != DestLocal && d.Kind != DestFTP {
			t.Errorf("destination kind %q", d.Kind)
		}
	})
}

// FuzzLoadState: a state file that loads is one the machine can stand in.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"format": 1, "step": "browse", "sources": ["x"], "volume": 1, "volumes": [{"number": 1}], "selected": ["a", "b/c"]}`))
	f.Add([]byte(`{"format": 1, "step": "export", "sources": ["x"], "volume": 1, "volumes": [{"number": 1}], "selected": ["a"], "destination": {"kind": "local", "dir": "/x"}}`))
	f.Add([]byte(`{"format": 1, "step": "sources"}`))
	f.Add([]byte(`{"format": 1, "step": "browse", "sources": ["x"], "volume": 1, "volumes": [{"number": 1}], "folder": "vm1/vm1.vmdk@/p1", "top": "vm1"}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "state.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := Resume(Options{StatePath: p})
		if err != nil {
			return
		}
		defer w.Close()
		if !w.Step().Valid() {
			t.Fatalf("step %q", w.Step())
		}
		// Every action either works or is refused; none panics.
		if _, ok := Prev(w.Step()); ok {
			w.Back()
		}
		w.Next()
		w.Plan()
		w.Report()
		if !w.Step().Final() {
			if err := w.Cancel(); err != nil {
				t.Errorf("cancel from %s: %v", w.Step(), err)
			}
		}
	})
}

// FuzzWords: the sources shown after b (joinWords) read back as the same
// words (splitWords), whatever characters the names hold; and a line that
// splits joins and splits again to the same words.
func FuzzWords(f *testing.F) {
	f.Add("disk.img", `my disk.img`, `it's "quoted"\`)
	f.Add("", "\t", `'a b' "c\"d"`)
	f.Fuzz(func(t *testing.T, a, b, line string) {
		for _, words := range [][]string{{a, b}, {a}} {
			got, err := splitWords(joinWords(words))
			if err != nil || !slices.Equal(got, words) {
				t.Fatalf("%q joined as %q read back as %q (%v)", words, joinWords(words), got, err)
			}
		}
		if words, err := splitWords(line); err == nil && len(words) > 0 {
			again, err := splitWords(joinWords(words))
			if err != nil || !slices.Equal(again, words) {
				t.Fatalf("%q: %q, then %q (%v)", line, words, again, err)
			}
		}
	})
}

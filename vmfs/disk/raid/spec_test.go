package raid_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		in, out string
		want    raid.Spec
	}{
		{"raid5:left-symmetric:64k:offset=0:a.img,b.img,missing,d.img", "",
			raid.Spec{Level: raid.RAID5, Layout: raid.LeftSymmetric, Chunk: 64 << 10, Offset: 0, Members: []string{"a.img", "b.img", "missing", "d.img"}}},
		{"RAID6:ls:1M:offset=2048s:size=1g:x,y,z,w", "raid6:left-symmetric:1m:offset=1m:size=1g:x,y,z,w",
			raid.Spec{Level: raid.RAID6, Layout: raid.LeftSymmetric, Chunk: 1 << 20, Offset: 1 << 20, Size: 1 << 30, Members: []string{"x", "y", "z", "w"}}},
		{"raid5", "", raid.Spec{Level: raid.RAID5, Layout: raid.LayoutUnknown, Offset: -1}},
		{"raid10:n2:4k:offset=4608:a,b,c", "raid10:n2:4k:offset=4608:a,b,c",
			raid.Spec{Level: raid.RAID10, Layout: raid.Near2, Chunk: 4096, Offset: 4608, Members: []string{"a", "b", "c"}}},
		{"raid10:64k:a,b", "", raid.Spec{Level: raid.RAID10, Layout: raid.LayoutUnknown, Chunk: 64 << 10, Offset: -1, Members: []string{"a", "b"}}},
		{"raid10:far2:64k:offset=0:a,b,c", "raid10:f2:64k:offset=0:a,b,c",
			raid.Spec{Level: raid.RAID10, Layout: raid.Far2, Chunk: 64 << 10, Offset: 0, Members: []string{"a", "b", "c"}}},
		{"raid10:o2:1m:offset=0:a,b", "", raid.Spec{Level: raid.RAID10, Layout: raid.Offset2, Chunk: 1 << 20, Offset: 0, Members: []string{"a", "b"}}},
		{"RAID6:Left-Symmetric-6:64k:offset=0:a,b,c,d", "raid6:left-symmetric-6:64k:offset=0:a,b,c,d",
			raid.Spec{Level: raid.RAID6, Layout: raid.LeftSymmetric6, Chunk: 64 << 10, Offset: 0, Members: []string{"a", "b", "c", "d"}}},
		{"jbod:offset=0:ssh://h:22/d1,nbd://h/x", "",
			raid.Spec{Level: raid.Linear, Layout: raid.LayoutUnknown, Members: []string{"ssh://h:22/d1", "nbd://h/x"}}},
	} {
		s, err := raid.Parse(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if !reflect.DeepEqual(s, c.want) {
			t.Errorf("%q: got %+v want %+v", c.in, s, c.want)
		}
		out := c.out
		if out == "" {
			out = c.in
		}
		if s.String() != out {
			t.Errorf("%q formats as %q, want %q", c.in, s.String(), out)
		}
		f, err := raid.ParseFile(s.FileText("written by a test", "second line"))
		if err != nil || !reflect.DeepEqual(f, s) {
			t.Errorf("file form of %q: %+v %v", c.in, f, err)
		}
	}
	for _, bad := range []string{"", "raid7:a,b", "raid5:48k:a,b,c", "raid0:left-symmetric:64k:a,b", "raid1:64k:a,b",
		"raid6:a,b", "raid5:offset=x:a,b,c", "raid5:a,,c", "raid0:n2:4k:a,b",
		"raid5:left-symmetric-6:a,b,c"} {
		if _, err := raid.Parse(bad); !errors.Is(err, raid.ErrSpec) {
			t.Errorf("%q: got %v, want ErrSpec", bad, err)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"raid5:left-symmetric:64k:offset=0:a.img,b.img,missing,d.img", "raid6:ddf-n-continue:1m:offset=1m:size=3g:a,b,c,d", "raid6:parity-first-6:4k:a,b,c,d",
		"jbod:offset=0:x:y,z", "raid10:n2:4k:a,b", "raid0:64k", "raid5:offset=5,a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := raid.Parse(text)
		if err != nil {
			return
		}
		back, err := raid.Parse(s.String())
		if err != nil {
			t.Fatalf("%q formats as %q, which does not parse: %v", text, s.String(), err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("%q: %+v formats as %q, read back as %+v", text, s, s.String(), back)
		}
		if f, err := raid.ParseFile(s.FileText("c")); err != nil || !reflect.DeepEqual(f, s) {
			t.Fatalf("file form of %q: %+v %v", text, f, err)
		}
	})
}

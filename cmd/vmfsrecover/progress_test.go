package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Progress lines of a remote source add what the link delivered and its
// rate, which differ from the scan's when holes are not transferred; a
// local source's lines do not.
func TestProgressLinesShowReceived(t *testing.T) {
	var out strings.Builder
	var got int64
	update, _ := progressOn(&out, false, 0, "deep scan nbd://h/", 16<<20, func() int64 { return got }, nil)
	got = 3 << 20
	time.Sleep(10 * time.Millisecond)
	update(8<<20, 16<<20)
	if s := out.String(); !strings.Contains(s, "deep scan nbd://h/: 8388608/16777216 bytes (50%)") || !strings.Contains(s, "received 3.0 MiB at ") {
		t.Errorf("remote progress line %q", s)
	}
	out.Reset()
	update, _ = progressOn(&out, false, 0, "deep scan disk.img", 16<<20, nil, nil)
	update(16<<20, 16<<20)
	if s := out.String(); !strings.Contains(s, "(100%)") || strings.Contains(s, "received") {
		t.Errorf("local progress line %q", s)
	}
}

// Sources scanned at once show as one display of their summed bytes, which
// starts over for the next scan; a lone source shows under its own name.
func TestSummedProgress(t *testing.T) {
	var descs []string
	var last [2]int64
	finished := 0
	show := func(desc string, total int64, received func() int64) (func(int64, int64), func()) {
		descs = append(descs, fmt.Sprintf("%s/%d/%v", desc, total, received != nil))
		return func(done, total int64) { last = [2]int64{done, total} }, func() { finished++ }
	}
	p := summedProgress(show)
	ua, fa := p("a.img", 100, nil)
	ub, fb := p("nbd://h/", 300, func() int64 { return 7 })
	ua(50, 100)
	ub(300, 300)
	fb()
	if finished != 0 {
		t.Error("the display ended before every source finished")
	}
	ua(100, 100)
	fa()
	if len(descs) != 1 || descs[0] != "deep scan of 2 sources/400/true" || last != [2]int64{400, 400} || finished != 1 {
		t.Errorf("two sources: displays %q, last %v, finished %d", descs, last, finished)
	}
	uc, fc := p("c.img", 10, nil)
	uc(10, 10)
	fc()
	if len(descs) != 2 || descs[1] != "deep scan c.img/10/false" || finished != 2 {
		t.Errorf("next scan: displays %q, finished %d", descs, finished)
	}
}

package main

import (
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
	update, _ := progressLines(&out, "deep scan nbd://h/", func() int64 { return got }, 0)
	got = 3 << 20
	time.Sleep(10 * time.Millisecond)
	update(8<<20, 16<<20)
	if s := out.String(); !strings.Contains(s, "deep scan nbd://h/: 8388608/16777216 bytes (50%)") || !strings.Contains(s, "received 3.0 MiB at ") {
		t.Errorf("remote progress line %q", s)
	}
	out.Reset()
	update, _ = progressLines(&out, "deep scan disk.img", nil, 0)
	update(16<<20, 16<<20)
	if s := out.String(); !strings.Contains(s, "(100%)") || strings.Contains(s, "received") {
		t.Errorf("local progress line %q", s)
	}
}

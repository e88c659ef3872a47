package main

import (
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// The long line is built by appending; these are the lines the format
// "%s %12d %s %s" (and its prefixes and suffixes) gave.
func TestAppendLong(t *testing.T) {
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		e       listing.Entry
		finding *deepscan.Finding
		want    string
	}{
		{listing.Entry{Path: "/vm1/a.log", Mode: "-rw-r--r--", Size: 7, MTime: mtime},
			nil, "-rw-r--r--            7 2024-01-02 03:04:05 /vm1/a.log"},
		{listing.Entry{Path: "/big", Mode: "-rw-------", Size: 1234567890123, MTime: mtime, SHA256: "ab"},
			nil, "-rw------- 1234567890123 2024-01-02 03:04:05 /big  sha256:ab"},
		{listing.Entry{Path: "/vm1/link", Mode: "lrwxrwxrwx", Size: 7, MTime: mtime, Target: "vm1.vmx"},
			nil, "lrwxrwxrwx            7 2024-01-02 03:04:05 /vm1/link -> vm1.vmx"},
		{listing.Entry{Path: "/gone", Mode: "-rw-r--r--", MTime: mtime, State: guestfs.Deleted},
			nil, "deleted -rw-r--r--            0 2024-01-02 03:04:05 /gone"},
		{listing.Entry{Path: "/x.vmx", Mode: "-rw-r--r--", Size: 12, MTime: mtime},
			&deepscan.Finding{Kind: "carved"}, "carved  -rw-r--r--           12 2024-01-02 03:04:05 /x.vmx"},
	} {
		if got := string(appendLong(nil, c.e, c.finding)); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

func TestAppendDateTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Unix(0, 0).UTC(),
		time.Unix(1<<32-1, 0).UTC(), // the last second a VMFS time holds
		time.Date(999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(12345, 6, 7, 8, 9, 10, 0, time.UTC),
	} {
		want := tm.Format("2006-01-02 15:04:05")
		if got := string(appendDateTime([]byte("x"), tm)); got != "x"+want {
			t.Errorf("got %q, want %q", got, "x"+want)
		}
	}
}

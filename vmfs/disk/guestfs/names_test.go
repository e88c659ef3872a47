package guestfs

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	n := NewNames(strings.ToLower)
	for _, c := range []struct {
		name    string
		deleted bool
		id      uint64
		want    string // "" when left out
	}{
		{"Readme.txt", false, 3, "Readme.txt"},
		{"README.TXT", false, 4, ""},
		{"readme.txt", true, 5, "readme.txt~deleted-5"},
		{"X~Deleted-7", false, 7, "X~Deleted-7"},
		{"x", false, 8, "x"},
		{"x", true, 7, ""},
		{"gone", true, 6, "gone"},
	} {
		got, ok := n.Take(c.name, c.deleted, c.id)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Take(%q, %v, %d) = %q, %v; want %q", c.name, c.deleted, c.id, got, ok, c.want)
		}
	}
	if got, ok := NewNames(nil).Take("a", false, 1); got != "a" || !ok {
		t.Errorf("Take with byte comparison = %q, %v", got, ok)
	}
}

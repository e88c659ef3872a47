package allocmap

import (
	"reflect"
	"testing"
)

func TestNormalizeMergesAndSorts(t *testing.T) {
	got := Normalize([]Range{{100, 10}, {0, 10}, {10, 5}, {105, 20}, {50, 0}})
	want := Map{{0, 15}, {100, 25}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Normalize = %v, want %v", got, want)
	}
	if got.Total() != 40 {
		t.Fatalf("Total = %d, want 40", got.Total())
	}
	if err := got.Validate(125); err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(124); err == nil {
		t.Fatal("Validate accepted a range past the size")
	}
}

func TestAddAndClip(t *testing.T) {
	var m Map
	m = m.Add(Range{0, 4}).Add(Range{4, 4}).Add(Range{16, 4}).Add(Range{30, 0})
	if want := (Map{{0, 8}, {16, 4}}); !reflect.DeepEqual(m, want) {
		t.Fatalf("Add = %v, want %v", m, want)
	}
	if got, want := m.Clip(18), (Map{{0, 8}, {16, 2}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Clip = %v, want %v", got, want)
	}
}

func TestWindow(t *testing.T) {
	m := Map{{0, 8}, {16, 4}, {30, 10}}
	if got, want := m.Window(4, 30), (Map{{0, 4}, {12, 4}, {26, 4}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Window(4, 30) = %v, want %v", got, want)
	}
	if got := m.Window(8, 8); got != nil {
		t.Fatalf("Window over a hole = %v, want nothing", got)
	}
}

func TestIsZero(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 64 << 10, 64<<10 + 3, 200 << 10} {
		p := make([]byte, n)
		if !IsZero(p) {
			t.Errorf("%d zero bytes: IsZero false", n)
		}
		for _, at := range []int{0, n / 2, n - 1} {
			if n == 0 {
				continue
			}
			p[at] = 1
			if IsZero(p) {
				t.Errorf("%d bytes with byte %d set: IsZero true", n, at)
			}
			p[at] = 0
		}
	}
}

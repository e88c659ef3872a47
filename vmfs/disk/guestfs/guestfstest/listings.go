package guestfstest

import (
	"io/fs"
	"runtime"
	"testing"
)

// CheckManyLargeDirs lists directories dirs of fsys one after another and
// checks that each lists the files want(i) names, in that order; that
// the heap grew by at most maxGrowth bytes with fsys and its caches alive
// (the listings a reader keeps are bounded by weight, not by count); and
// that the first lists alike again once dropped from the cache.
func CheckManyLargeDirs(t *testing.T, fsys fs.FS, dirs []string, want func(i int) []string, maxGrowth int64) {
	t.Helper()
	check := func(i int) {
		list, err := fs.ReadDir(fsys, dirs[i])
		if err != nil {
			t.Fatal(err)
		}
		names := want(i)
		if len(list) != len(names) {
			t.Fatalf("%s lists %d entries; want %d", dirs[i], len(list), len(names))
		}
		for j, e := range list {
			if e.Name() != names[j] || e.IsDir() {
				t.Fatalf("%s: entry %d is %s (directory %v); want file %s", dirs[i], j, e.Name(), e.IsDir(), names[j])
			}
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range dirs {
		check(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d MiB", grown>>20)
	if grown > maxGrowth {
		t.Errorf("after listing %d directories of %d entries the heap grew by %d MiB; want at most %d MiB", len(dirs), len(want(0)), grown>>20, maxGrowth>>20)
	}
	check(0)
	runtime.KeepAlive(fsys)
}

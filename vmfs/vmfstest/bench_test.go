package vmfstest

import (
	"path/filepath"
	"testing"
)

func BenchmarkWriteSmall(b *testing.B) {
	for _, v := range []int{5, 6} {
		b.Run(map[int]string{5: "vmfs5", 6: "vmfs6"}[v], func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				if _, err := Write(filepath.Join(dir, "b.img"), Spec{Version: v, Files: smallEntries()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestGenAtConsistent(t *testing.T) {
	whole := make([]byte, 1000)
	genAt(7, whole, 3)
	for _, cut := range []int{0, 1, 5, 8, 13, 999} {
		a, b := make([]byte, cut), make([]byte, 1000-cut)
		genAt(7, a, 3)
		genAt(7, b, 3+int64(cut))
		if string(append(a, b...)) != string(whole) {
			t.Fatalf("split at %d differs", cut)
		}
	}
}

func BenchmarkGenAt(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		genAt(1, buf, int64(i)<<20)
	}
}

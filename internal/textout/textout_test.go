package textout

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64][2]string{
		0:           {"0 B", "0 B"},
		1023:        {"1023 B", "1023 B"},
		1024:        {"1.0 KiB", "1 KiB"},
		1536:        {"1.5 KiB", "1.5 KiB"},
		3 << 20:     {"3.0 MiB", "3 MiB"},
		200 << 20:   {"200.0 MiB", "200 MiB"},
		1<<40 - 1:   {"1024.0 GiB", "1024 GiB"},
		5 << 60:     {"5.0 EiB", "5 EiB"},
		1<<63 - 1:   {"8.0 EiB", "8 EiB"},
		1<<30 + 1e8: {"1.1 GiB", "1.1 GiB"},
	} {
		if got := Bytes(n); got != want[0] {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want[0])
		}
		if got := BytesShort(n); got != want[1] {
			t.Errorf("BytesShort(%d) = %q, want %q", n, got, want[1])
		}
	}
}

// TestShellQuoteRoundTrip: sh reads back every quoted word as it was.
func TestShellQuoteRoundTrip(t *testing.T) {
	words := []string{"plain", "with space", "it's", "", "a'b'c", "$HOME", "`x`", "new\nline", "--x=1,2:3", "é"}
	got, err := exec.Command("sh", "-c", "printf '%s\\0' "+ShellQuoteAll(words)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(words, "\x00")+"\x00" != string(got) {
		t.Errorf("sh read back %q", got)
	}
	if ShellQuote("vmk0") != "vmk0" || ShellQuote("/vmfs/volumes/ds1") != "/vmfs/volumes/ds1" {
		t.Error("a safe word was quoted")
	}
}

type failing struct{ n int }

func (f *failing) Write(p []byte) (int, error) {
	if f.n++; f.n > 1 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestErrWriterKeepsFirstError(t *testing.T) {
	f := &failing{}
	ew := &ErrWriter{W: f}
	ew.Printf("one %d\n", 1)
	ew.Printf("two\n")
	ew.Printf("three\n")
	if ew.Err == nil || ew.Err.Error() != "disk full" || f.n != 2 {
		t.Errorf("Err %v after %d writes, want the first failure and no write after it", ew.Err, f.n)
	}
}

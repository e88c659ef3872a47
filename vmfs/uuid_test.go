package vmfs

import "testing"

func TestUUIDTextRoundTrip(t *testing.T) {
	u := UUID{0xD5, 0x7D, 0x13, 0x61, 0xC8, 0xC2, 0x6B, 0xDF, 0xE7, 0xF0, 0x00, 0x0C, 0x29, 0x80, 0x16, 0x86}
	const want = "61137dd5-df6bc2c8-f0e7-000c29801686"
	if u.String() != want {
		t.Fatalf("String = %s, want %s", u, want)
	}
	var back UUID
	if err := back.UnmarshalText([]byte(want)); err != nil || back != u {
		t.Fatalf("UnmarshalText = %x, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("nonsense")); err == nil {
		t.Fatal("accepted a malformed UUID")
	}
}

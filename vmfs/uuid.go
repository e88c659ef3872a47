package vmfs

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// UUID is a VMware 16-byte identifier: time low, time high, random (all
// little-endian), then the creating host's MAC address (vmfs.md: "UUIDs and times").
type UUID [16]byte

// String prints the form ESXi shows: 61137dd5-df6bc2c8-f0e7-000c29801686.
func (u UUID) String() string {
	return fmt.Sprintf("%08x-%08x-%04x-%x",
		binary.LittleEndian.Uint32(u[0:]), binary.LittleEndian.Uint32(u[4:]),
		binary.LittleEndian.Uint16(u[8:]), u[10:16])
}

// IsZero reports whether u is all zeros.
func (u UUID) IsZero() bool { return u == UUID{} }

// MarshalText makes UUIDs print as strings in JSON.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText parses the form String prints.
func (u *UUID) UnmarshalText(b []byte) error {
	s := string(b)
	if len(s) != 35 || s[8] != '-' || s[17] != '-' || s[22] != '-' {
		return fmt.Errorf("vmfs: bad UUID %q", s)
	}
	raw, err := hex.DecodeString(s[0:8] + s[9:17] + s[18:22] + s[23:35])
	if err != nil {
		return fmt.Errorf("vmfs: bad UUID %q: %w", s, err)
	}
	binary.LittleEndian.PutUint32(u[0:], binary.BigEndian.Uint32(raw[0:]))
	binary.LittleEndian.PutUint32(u[4:], binary.BigEndian.Uint32(raw[4:]))
	binary.LittleEndian.PutUint16(u[8:], binary.BigEndian.Uint16(raw[8:]))
	copy(u[10:], raw[10:16])
	return nil
}

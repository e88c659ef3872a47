package vmfs

import (
	"encoding/binary"
	"fmt"
)

// UUID is a VMware 16-byte identifier: time low, time high, random (all
// little-endian), then the creating host's MAC address (§11).
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

package raidtest

import (
	"encoding/binary"
	"fmt"
	"os"
)

// MDSuper describes an md superblock to write on a member, as mdadm would
// (md(4), "SUPERBLOCK FORMATS"; layout of struct mdp_superblock_1 in the
// kernel's md_p.h).
type MDSuper struct {
	Version string // "0.90", "1.0", "1.1" or "1.2"
	Level   int    // md level number: -1 linear, 0, 1, 4, 5, 6, 10
	Layout  int    // md layout number
	Chunk   int64  // bytes
	Members int
	Slot    int
	// DataOffset and DataSize are in bytes (1.x only: 0.90 data starts at 0).
	DataOffset, DataSize int64
	UUID                 [16]byte
}

// WriteMDSuper writes sb on the member image at path, where md puts it for
// its version, with a valid checksum.
func WriteMDSuper(path string, sb MDSuper) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sectors := st.Size() / 512
	le := binary.LittleEndian
	if sb.Version == "0.90" {
		b := make([]byte, 4096)
		put := func(word int, v uint32) { le.PutUint32(b[word*4:], v) }
		put(0, 0xa92b4efc)
		put(2, 90)
		put(5, le.Uint32(sb.UUID[0:]))
		put(7, uint32(int32(sb.Level)))
		put(8, uint32(sb.DataSize/1024))
		put(9, uint32(sb.Members))
		put(10, uint32(sb.Members))
		put(13, le.Uint32(sb.UUID[4:]))
		put(14, le.Uint32(sb.UUID[8:]))
		put(15, le.Uint32(sb.UUID[12:]))
		put(64, uint32(sb.Layout))
		put(65, uint32(sb.Chunk))
		for i := range sb.Members {
			d := 128 + 32*i
			put(d, uint32(i))
			put(d+3, uint32(i))
			put(d+4, 6) // active, in sync
		}
		copy(b[992*4:], b[(128+32*sb.Slot)*4:][:32*4])
		var sum uint64
		for i := range 1024 {
			sum += uint64(le.Uint32(b[4*i:]))
		}
		put(38, uint32(sum+sum>>32))
		_, err = f.WriteAt(b, ((sectors&^127)-128)*512)
		return err
	}
	b := make([]byte, 1024)
	le.PutUint32(b[0x00:], 0xa92b4efc)
	le.PutUint32(b[0x04:], 1)
	copy(b[0x10:], sb.UUID[:])
	copy(b[0x20:], "vmfsrecover:test")
	le.PutUint32(b[0x48:], uint32(int32(sb.Level)))
	le.PutUint32(b[0x4C:], uint32(sb.Layout))
	le.PutUint64(b[0x50:], uint64(sb.DataSize/512))
	le.PutUint32(b[0x58:], uint32(sb.Chunk/512))
	le.PutUint32(b[0x5C:], uint32(sb.Members))
	var at int64
	switch sb.Version {
	case "1.0":
		at = ((sectors - 16) &^ 7) * 512
	case "1.1":
		at = 0
	case "1.2":
		at = 4096
	default:
		return fmt.Errorf("raidtest: md version %q", sb.Version)
	}
	le.PutUint64(b[0x80:], uint64(sb.DataOffset/512))
	le.PutUint64(b[0x88:], uint64(sb.DataSize/512))
	le.PutUint64(b[0x90:], uint64(at/512))
	le.PutUint32(b[0xA0:], uint32(sb.Slot))
	le.PutUint64(b[0xC8:], 42)         // events
	le.PutUint64(b[0xD0:], ^uint64(0)) // resync_offset: clean
	le.PutUint32(b[0xDC:], uint32(sb.Members))
	for i := range sb.Members {
		le.PutUint16(b[0x100+2*i:], uint16(i))
	}
	var sum uint64
	for i := 0; i < 0x100+2*sb.Members; i += 4 {
		sum += uint64(le.Uint32(b[i:]))
	}
	le.PutUint32(b[0xD8:], uint32(sum&0xffffffff+sum>>32))
	_, err = f.WriteAt(b, at)
	return err
}

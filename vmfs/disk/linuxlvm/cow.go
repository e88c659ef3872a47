package linuxlvm

import (
	"encoding/binary"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// The exception store of a snapshot, as the kernel's dm-snapshot writes
// it (persistent format, version 1), in chunks of the snapshot's chunk
// size:
//
//	chunk 0: header: magic "SnAp" (0x70416e53), valid (0 once the store
//	         overflowed), version 1, chunk size in sectors (all uint32)
//	chunk 1: an area of exceptions {old chunk of the origin, new chunk of
//	         the store} (uint64 each), then as many data chunks as an
//	         area holds exceptions, then the next area, and so on
//
// The first exception whose new chunk is 0 ends the list. A store whose
// header is all zeros was never activated: the snapshot has no changes.
const snapMagic = 0x70416e53

func readExceptions(store *LV, originSize, chunkSize int64) (map[int64]int64, int64, error) {
	where := func(off int64) *ondisk.FormatError {
		return &ondisk.FormatError{Path: store.String(), Struct: "snapshot exception store", Off: off, Err: ErrCorrupt}
	}
	h := make([]byte, 16)
	if _, err := store.read(h, 0, false); err != nil {
		return nil, 0, fmt.Errorf("snapshot exception store %s: %w", store, err)
	}
	le := binary.LittleEndian
	magic, valid, version, cs := le.Uint32(h), le.Uint32(h[4:]), le.Uint32(h[8:]), int64(le.Uint32(h[12:]))
	switch {
	case magic == 0:
		return map[int64]int64{}, chunkSize, nil
	case magic != snapMagic:
		e := where(0)
		e.Msg = fmt.Sprintf("magic %#x", magic)
		return nil, 0, e
	case valid == 0:
		e := where(0)
		e.Msg, e.Err = "marked invalid: the snapshot overflowed its store and was dropped by the kernel", ErrUnsupported
		return nil, 0, e
	case version != 1:
		e := where(0)
		e.Msg, e.Err = fmt.Sprintf("version %d", version), ErrUnsupported
		return nil, 0, e
	case cs <= 0 || cs&(cs-1) != 0 || cs > 1<<20:
		e := where(0)
		e.Msg = fmt.Sprintf("chunk size %d sectors", cs)
		return nil, 0, e
	}
	chunkSize = cs * sectorSize
	perArea := chunkSize / 16
	storeChunks, originChunks := store.Size/chunkSize, (originSize+chunkSize-1)/chunkSize
	ex := map[int64]int64{}
	area := make([]byte, chunkSize)
	for a := int64(0); ; a++ {
		at := 1 + a*(perArea+1) // chunk of the area
		if at >= storeChunks {
			return ex, chunkSize, nil
		}
		if _, err := store.read(area, at*chunkSize, false); err != nil {
			return nil, 0, fmt.Errorf("snapshot exception store %s: %w", store, err)
		}
		for i := int64(0); i < perArea; i++ {
			old, to := int64(le.Uint64(area[16*i:])), int64(le.Uint64(area[16*i+8:]))
			if to == 0 {
				return ex, chunkSize, nil
			}
			if old < 0 || old >= originChunks || to <= at || to >= storeChunks {
				e := where(at*chunkSize + 16*i)
				e.Msg = fmt.Sprintf("exception %d of area %d maps chunk %d of %d to chunk %d of %d", i, a, old, originChunks, to, storeChunks)
				return nil, 0, e
			}
			ex[old] = to
		}
	}
}

package layout

import "encoding/binary"

// Field is a little-endian integer of Size bytes (1, 2, 4 or 8), or a byte
// array of Size bytes, at offset Off of a structure.
type Field struct{ Off, Size int }

// Get reads the integer field from the structure in b.
func (f Field) Get(b []byte) uint64 {
	b = b[f.Off : f.Off+f.Size]
	switch f.Size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	panic("layout: Get of a byte-array field")
}

// Get32 is Get for a field of at most 4 bytes.
func (f Field) Get32(b []byte) uint32 { return uint32(f.Get(b)) }

// Put writes v into the integer field of the structure in b.
func (f Field) Put(b []byte, v uint64) {
	b = b[f.Off : f.Off+f.Size]
	switch f.Size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, v)
	default:
		panic("layout: Put of a byte-array field")
	}
}

// Bytes is the byte-array field of the structure in b.
func (f Field) Bytes(b []byte) []byte { return b[f.Off : f.Off+f.Size] }

// LVMHeaderOffset is where the LVM device header lies, from the start of
// its partition; LVMMagic is its first word (vmfs.md: "LVM device header").
const (
	LVMHeaderOffset = 0x100000
	LVMMagic        = 0xC001D00D
)

// LVM is the LVM device header at +1 MiB of every extent (vmfs.md: "LVM
// device header").
var LVM = struct {
	Magic, Major, Minor, SectorSize, DeviceBytes, Volumes, PEs, LastPE,
	Generation, DataOffset, DeviceUUID, InitTime, ModTime, PEMaps,
	ExtMeta, MDAlignment, Units6, Flags Field
}{
	Magic: Field{0x00, 4}, Major: Field{0x04, 4}, Minor: Field{0x08, 4},
	SectorSize: Field{0x5A, 4}, DeviceBytes: Field{0x5E, 8}, Volumes: Field{0x66, 4},
	PEs: Field{0x6A, 4}, LastPE: Field{0x6E, 4}, Generation: Field{0x72, 8},
	DataOffset: Field{0x7A, 8}, DeviceUUID: Field{0x82, 16}, InitTime: Field{0x92, 8},
	ModTime: Field{0x9A, 8}, PEMaps: Field{0xBE, 4}, ExtMeta: Field{0xC2, 8},
	MDAlignment: Field{0xCA, 4}, Units6: Field{0xCE, 4}, Flags: Field{0xD2, 4},
}

// VolumeDesc is the first 512-byte slot of the volume table (vmfs.md:
// "Volume descriptor").
var VolumeDesc = struct {
	Size, Generation, State, Name, UUID, SnapID, CreateTime, Units,
	FirstPE, LastPE, ModTime, Devices, ConsumedPEs Field
}{
	Size: Field{0x00, 8}, Generation: Field{0x08, 8}, State: Field{0x10, 4},
	Name: Field{0x14, 64}, UUID: Field{0x54, 16}, SnapID: Field{0x64, 4},
	CreateTime: Field{0x68, 8}, Units: Field{0x74, 4}, FirstPE: Field{0x78, 8},
	LastPE: Field{0x80, 8}, ModTime: Field{0x88, 8}, Devices: Field{0x90, 4},
	ConsumedPEs: Field{0x110, 4},
}

// PEEntrySize is the size of one packed PE-table entry.
const PEEntrySize = 128

// PEEntry is one entry of a PE table (vmfs.md: "PE table and spanned
// volumes").
var PEEntry = struct {
	Used, ID, Volume, Physical, Logical, Length, Version Field
}{
	Used: Field{0x00, 1}, ID: Field{0x01, 4}, Volume: Field{0x05, 4},
	Physical: Field{0x09, 8}, Logical: Field{0x11, 8}, Length: Field{0x19, 8},
	Version: Field{0x21, 4},
}

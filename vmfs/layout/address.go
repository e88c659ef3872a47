package layout

// Address types: the low 3 bits of every block pointer and FD address
// (vmfs.md: "Addresses").
const (
	AddrNull = 0 // a hole
	AddrFB   = 1 // file block (VMFS6: small file block)
	AddrSB   = 2 // sub-block, in .sbc.sf
	AddrPB   = 3 // pointer block, in .pbc.sf
	AddrFD   = 4 // file descriptor, in .fdc.sf
	AddrPB2  = 5 // pointer block, in .pb2.sf
	AddrJB   = 6 // journal block (VMFS6)
	AddrLFB  = 7 // large file block (VMFS6)
)

// FDAddr is the 32-bit address of descriptor r of .fdc.sf cluster c, the
// same on every version: cluster bits 6–21, resource bits 22–31.
func FDAddr(c, r uint64) uint32 { return uint32(r<<22 | (c&0xFFFF)<<6 | AddrFD) }

// SplitFDAddr is the cluster and resource of an FD address.
func SplitFDAddr(a uint32) (c, r uint64) { return uint64(a>>6) & 0xFFFF, uint64(a >> 22) }

// ResAddr is the address of resource r of cluster c of a sub-block or
// pointer-block file, of type typ (AddrSB, AddrPB, AddrPB2): cluster bits
// 6–41 and resource bits 56–63 on VMFS6, cluster bits 6–27 and resource
// bits 28–31 before.
func ResAddr(v6 bool, typ, c, r uint64) uint64 {
	if v6 {
		return c<<6 | r<<56 | typ
	}
	return c<<6 | r<<28 | typ
}

// SplitResAddr is the cluster and resource of a ResAddr. Before VMFS6, a
// volume with dense sub-blocks (descriptor config bit 0x4) keeps
// resource bits 4–5 in bits 3–4 of the address.
func SplitResAddr(v6, dense bool, a uint64) (c, r uint64) {
	if v6 {
		return (a >> 6) & (1<<36 - 1), a >> 56
	}
	a &= 0xFFFFFFFF
	c, r = (a>>6)&(1<<22-1), a>>28
	if dense {
		r |= ((a >> 3) & 3) << 4
	}
	return c, r
}

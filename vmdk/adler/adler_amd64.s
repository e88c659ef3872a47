#include "textflag.h"

// Byte weights 32, 31, ..., 1: byte i of a block weighs 32-i.
DATA weights<>+0x00(SB)/8, $0x191a1b1c1d1e1f20
DATA weights<>+0x08(SB)/8, $0x1112131415161718
DATA weights<>+0x10(SB)/8, $0x090a0b0c0d0e0f10
DATA weights<>+0x18(SB)/8, $0x0102030405060708
GLOBL weights<>(SB), RODATA|NOPTR, $32

// Sixteen 16-bit ones, to add pairs of words into double words.
DATA ones<>+0x00(SB)/8, $0x0001000100010001
DATA ones<>+0x08(SB)/8, $0x0001000100010001
DATA ones<>+0x10(SB)/8, $0x0001000100010001
DATA ones<>+0x18(SB)/8, $0x0001000100010001
GLOBL ones<>(SB), RODATA|NOPTR, $32

// func sumBlocks(p []byte, lanes *[12]uint64)
//
// For each block of 32 bytes: ps += a (the bytes before it), a += the
// block's bytes (VPSADBW: four sums of eight), w += its bytes times their
// weights (VPMADDUBSW then VPMADDWD: eight sums of four). lanes gets a's
// four 64-bit lanes, ps's four, and w's eight 32-bit lanes.
TEXT ·sumBlocks(SB), NOSPLIT, $0-32
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	MOVQ lanes+24(FP), DI
	SHRQ $5, CX
	VPXOR Y0, Y0, Y0 // zero
	VPXOR Y1, Y1, Y1 // a
	VPXOR Y2, Y2, Y2 // ps
	VPXOR Y3, Y3, Y3 // w
	VMOVDQU weights<>(SB), Y4
	VMOVDQU ones<>(SB), Y5

loop:
	VMOVDQU    (SI), Y6
	VPADDQ     Y1, Y2, Y2
	VPSADBW    Y0, Y6, Y7
	VPADDQ     Y7, Y1, Y1
	VPMADDUBSW Y4, Y6, Y8
	VPMADDWD   Y5, Y8, Y8
	VPADDD     Y8, Y3, Y3
	ADDQ       $32, SI
	DECQ       CX
	JNZ        loop

	VMOVDQU Y1, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VZEROUPPER
	RET

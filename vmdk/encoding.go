package vmdk

import (
	"strings"
	"unicode/utf8"
)

// cp1252 maps bytes 0x80-0x9F of windows-1252 to Unicode; 0xA0-0xFF are
// the Latin-1 code points themselves. Undefined bytes map to U+FFFD.
var cp1252 = [32]rune{
	'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
	'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
}

// decodeName returns the UTF-8 form of a file name written in the
// descriptor's encoding, when that differs from the raw bytes: hosted
// products on Windows write encoding="windows-1252" and non-ASCII names in
// that code page, while a copy of the files on Linux has UTF-8 names. Only
// the single-byte Western encodings are known; for the others (Shift_JIS,
// GBK, Big5) ok is false.
func decodeName(name, encoding string) (string, bool) {
	if utf8.ValidString(name) {
		return name, false
	}
	switch strings.ToLower(encoding) {
	case "windows-1252", "cp1252", "iso-8859-1", "latin1":
	default:
		return name, false
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c < 0x80:
			b.WriteByte(c)
		case c < 0xA0:
			b.WriteRune(cp1252[c-0x80])
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String(), true
}

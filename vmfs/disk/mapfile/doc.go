// Package mapfile reads and writes GNU ddrescue mapfiles: the record of
// which parts of a failing disk were read into an image and which were
// not.
//
// A mapfile is text. Lines starting with '#' (or a '#' after white space)
// are comments. The first other line is the status line: the position
// being tried, a phase character and the pass number. Every line after it
// is a block: position, size and a status character, the blocks sorted,
// contiguous and not overlapping. Integers are written as C integer
// constants (0x hexadecimal, leading 0 octal, else decimal); GNU ddrescue
// writes hexadecimal.
//
// Block status, in the order a rescue moves a sector through them:
//
//	?  non-tried: never read
//	*  non-trimmed: a large read over it failed
//	/  non-scraped: its block was trimmed, its sectors not yet read one by one
//	-  bad sector: read one sector at a time and failed
//	+  finished: read; the image holds its bytes
//
// Every status but finished means the image does not hold the source's
// bytes there: they are lost (the image reads zeros, which are not the
// disk's data). Map.Lost gives those ranges, which a reader of the image
// reports per file instead of passing the zeros off as content.
//
// The status line's phase characters are those of GNU ddrescue: '?'
// copying, '*' trimming, '/' scraping, '-' retrying, 'F' filling, 'G'
// generating, '+' finished.
package mapfile

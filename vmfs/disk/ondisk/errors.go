package ondisk

import "fmt"

// FormatError reports an on-disk structure that failed to decode: where it
// lies (the file or layer its offset counts in, the structure, the byte
// offset, printed in hex), what is wrong with it, and its class: a sentinel
// error of the package that decoded it (vmfs.ErrCorrupt,
// vmdk.ErrUnsupported, partition.ErrCorrupt), which errors.Is finds through
// Unwrap. Every format package of the stack returns this one type, so
// callers and tests take it apart with errors.As whatever the layer.
type FormatError struct {
	// Path is the file or device as opened, or the layer whose offsets Off
	// counts ("vmfs" for a VMFS volume offset); empty when the caller's
	// context says it.
	Path   string
	Struct string // "LVM header", "grain table", "GPT entries", "descriptor line 7"
	Off    int64  // byte offset of the structure in Path; -1 when it has none (a text line)
	Msg    string // what is wrong
	Err    error  // the class
}

func (e *FormatError) Error() string {
	s := e.Struct
	if e.Off >= 0 {
		s += fmt.Sprintf(" at offset %#x", e.Off)
	}
	s += ": " + e.Msg
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	return s
}

// Unwrap returns the class, so that errors.Is(err, vmfs.ErrCorrupt) holds.
func (e *FormatError) Unwrap() error { return e.Err }

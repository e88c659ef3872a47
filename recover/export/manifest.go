package export

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Entry statuses in a manifest.
const (
	StatusExported = "exported" // written, size checked, renamed to its final name
	StatusComplete = "complete" // already exported by an earlier run: same size and sha256
	StatusFailed   = "failed"   // not exported; Error says why
	StatusLinked   = "linked"   // a symbolic link recreated inside the destination
	StatusSkipped  = "skipped"  // deliberately not exported (a link leading outside, a special file); Error says why
	StatusDir      = "dir"      // a directory created
)

// Entry kinds.
const (
	KindFile    = "file"
	KindDir     = "dir"
	KindSymlink = "symlink"
	KindOther   = "other"
)

// Entry is one line of the manifest.
type Entry struct {
	Source string `json:"source"` // path in the source fs.FS
	// SourceHex is the source path's bytes in hex when they are not valid
	// UTF-8, which JSON cannot carry.
	SourceHex  string    `json:"source_hex,omitempty"`
	Dest       string    `json:"dest"`              // path relative to the destination root, "/"-separated
	Renamed    bool      `json:"renamed,omitempty"` // Dest is not Source: the name was made safe or unique
	Kind       string    `json:"kind"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256,omitempty"` // of the source bytes, computed while reading them
	ModTime    time.Time `json:"mtime,omitzero"`
	Provenance string    `json:"provenance,omitempty"` // intact, deleted, orphan, carved (from Provenancer)
	// Warnings say which bytes of the file are known to be lost (read as
	// zeros), from Warner.
	Warnings []string `json:"warnings,omitempty"`
	Target   string   `json:"target,omitempty"` // symbolic link target
	Status   string   `json:"status"`
	Error    string   `json:"error,omitempty"`
	// ResumedFrom is the offset this run continued a partial file at.
	ResumedFrom int64 `json:"resumed_from,omitempty"`
	// Verified: the file was read back from the destination after writing
	// and its sha256 matched (Options.ReadBack).
	Verified bool `json:"verified,omitempty"`
	// Retries counts reconnections during this file.
	Retries int `json:"retries,omitempty"`
	// Repaired: an earlier run's copy, read back (Options.ReadBack), no
	// longer matched its entry and was copied again.
	Repaired bool `json:"repaired,omitempty"`
}

// Done reports whether the entry's file is in the destination with the
// recorded hash, so verify checks it and a rerun may skip it.
func (e Entry) Done() bool {
	return e.Kind == KindFile && (e.Status == StatusExported || e.Status == StatusComplete)
}

func newEntry(src string) Entry {
	e := Entry{Source: src}
	if !utf8.ValidString(src) {
		e.SourceHex = hex.EncodeToString([]byte(src))
	}
	return e
}

// maxManifestLine bounds one manifest line; an entry is a few hundred bytes.
const maxManifestLine = 1 << 20

// ErrManifest reports a manifest that cannot be parsed.
var ErrManifest = errors.New("bad manifest")

// ManifestError says which line of a manifest is bad.
type ManifestError struct {
	Line int
	Err  error
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("manifest line %d: %v", e.Line, e.Err)
}
func (e *ManifestError) Unwrap() []error { return []error{ErrManifest, e.Err} }

// ReadManifest parses a JSON Lines manifest. Blank lines are ignored.
func ReadManifest(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxManifestLine)
	var out []Entry
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return out, &ManifestError{Line: n, Err: err}
		}
		if dec.More() {
			return out, &ManifestError{Line: n, Err: errors.New("more than one JSON value on the line")}
		}
		if err := e.check(); err != nil {
			return out, &ManifestError{Line: n, Err: err}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, &ManifestError{Line: len(out) + 1, Err: err}
	}
	return out, nil
}

func (e Entry) check() error {
	if e.Dest == "" {
		return errors.New(`no "dest"`)
	}
	if !validDest(e.Dest) {
		return fmt.Errorf("dest %q leaves the destination", e.Dest)
	}
	if e.Size < 0 {
		return fmt.Errorf("negative size %d", e.Size)
	}
	if e.SHA256 != "" {
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("sha256 %q is not 64 hex digits", e.SHA256)
		}
	}
	if e.Done() && e.SHA256 == "" {
		return fmt.Errorf("%s file without sha256", e.Status)
	}
	return nil
}

// validDest reports whether a manifest's destination path stays inside the
// destination: relative, no "." or ".." or empty components, no NUL.
func validDest(p string) bool {
	if p == "" || p[0] == '/' {
		return false
	}
	for _, c := range bytes.Split([]byte(p), []byte("/")) {
		s := string(c)
		if s == "" || s == "." || s == ".." || bytes.IndexByte(c, 0) >= 0 {
			return false
		}
	}
	return true
}

// encodeManifest writes entries as JSON Lines.
func encodeManifest(entries []Entry) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, e := range entries {
		_ = enc.Encode(e) // an Entry always encodes
	}
	return b.Bytes()
}

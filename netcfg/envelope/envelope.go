package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

const (
	BlockSize   = 4096
	headerMagic = "DataTransformEnvelope"
	aeadMagic   = "DataTransformAeadFooter"
	cryptoMagic = "DataTransformCryptoFooter"
	// AAD is the associated data ESXi binds to its configuration archive.
	AAD = "ESXConfiguration"
	// kdfSuffix is appended to data1 before key derivation; ESXi's own text.
	kdfSuffix     = "This is obfuscation, not encryption. If you want encryption, use TPM."
	kdfIterations = 100000
	// MaxSize bounds the envelope read into memory (state.tgz lives on a
	// bootbank of at most 4 GB; real configuration archives are megabytes).
	MaxSize = 512 << 20
)

// Sentinel errors.
var (
	ErrNotEnvelope = errors.New("not a DataTransformEnvelope")
	ErrUnsupported = errors.New("unsupported envelope")
	ErrTPM         = errors.New("key sealed in the host's TPM")
	ErrWrongKey    = errors.New("key does not match the envelope's key hash")
	ErrAuth        = errors.New("GCM authentication failed: the file is damaged")
	ErrKeyStore    = errors.New("malformed encryption.info")
)

// FormatError is a structural problem at a byte offset of the envelope.
type FormatError struct {
	Struct string // "header", "attribute", "AEAD footer", "crypto footer"
	Off    int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("envelope %s at byte %d: %s", e.Struct, e.Off, e.Msg)
}

func (e *FormatError) Unwrap() error { return ErrNotEnvelope }

// Attribute is one typed header attribute.
type Attribute struct {
	Name  string
	Type  byte
	Flag  byte
	Value []byte // raw value bytes (strings without their NUL)
}

// Envelope is a parsed local.tgz.ve.
type Envelope struct {
	Version    uint32
	Attributes []Attribute
	KeyInfo    string
	CipherName string
	KeyHash    []byte
	IV         []byte
	tag        []byte
	r          io.ReaderAt
	size       int64
}

var fixedSize = map[byte]int{1: 1, 2: 2, 3: 4, 4: 8, 5: 1, 6: 2, 7: 4, 8: 8, 9: 4, 10: 8}

// Open parses the header and the AEAD footer of an envelope of size bytes.
func Open(r io.ReaderAt, size int64) (*Envelope, error) {
	if size < 2*BlockSize {
		return nil, &FormatError{"header", 0, fmt.Sprintf("file of %d bytes is shorter than header and footer", size)}
	}
	if size > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrUnsupported, size, MaxSize)
	}
	hdr := make([]byte, BlockSize)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	if string(hdr[:len(headerMagic)]) != headerMagic {
		return nil, &FormatError{"header", 0, "magic DataTransformEnvelope missing"}
	}
	e := &Envelope{Version: binary.LittleEndian.Uint32(hdr[508:]), r: r, size: size}
	if e.Version != 2 {
		return nil, fmt.Errorf("%w: header version %d (only 2 is known)", ErrUnsupported, e.Version)
	}
	if err := e.parseAttributes(hdr); err != nil {
		return nil, err
	}
	for _, a := range e.Attributes {
		switch a.Name {
		case "vmware.keyInfo":
			e.KeyInfo = string(a.Value)
		case "vmware.cipherName":
			e.CipherName = string(a.Value)
		case "vmware.keyHash":
			e.KeyHash = a.Value
		case "vmware.iv":
			e.IV = a.Value
		}
	}
	for name, ok := range map[string]bool{"vmware.keyInfo": e.KeyInfo != "", "vmware.cipherName": e.CipherName != "", "vmware.keyHash": e.KeyHash != nil} {
		if !ok {
			return nil, &FormatError{"header", 512, "required attribute " + name + " missing"}
		}
	}
	if e.CipherName != "AES-256-GCM" {
		return nil, fmt.Errorf("%w: cipher %q", ErrUnsupported, e.CipherName)
	}
	if len(e.IV) == 0 {
		return nil, &FormatError{"header", 512, "AES-256-GCM envelope without vmware.iv"}
	}
	foot := make([]byte, BlockSize)
	footOff := size - BlockSize
	if _, err := r.ReadAt(foot, footOff); err != nil {
		return nil, fmt.Errorf("envelope AEAD footer: %w", err)
	}
	if string(foot[:len(aeadMagic)]) != aeadMagic {
		return nil, &FormatError{"AEAD footer", footOff, "magic DataTransformAeadFooter missing"}
	}
	tagLen := binary.LittleEndian.Uint32(foot[32+4056:])
	if v := binary.LittleEndian.Uint32(foot[32+4056+4:]); v != 1 {
		return nil, &FormatError{"AEAD footer", footOff, fmt.Sprintf("version %d (only 1 is known)", v)}
	}
	if tagLen < 12 || tagLen > 16 {
		return nil, &FormatError{"AEAD footer", footOff, fmt.Sprintf("tag size %d", tagLen)}
	}
	e.tag = append([]byte(nil), foot[32:32+tagLen]...)
	return e, nil
}

func (e *Envelope) parseAttributes(hdr []byte) error {
	buf := hdr[512:]
	off := 0
	cstr := func() (string, bool) {
		i := bytes.IndexByte(buf[off:], 0)
		if i < 0 {
			return "", false
		}
		s := string(buf[off : off+i])
		off += i + 1
		return s, true
	}
	for off < len(buf) {
		start := off
		typ := buf[off]
		if typ == 0 {
			return nil
		}
		if off+4 > len(buf) {
			break
		}
		flag := buf[off+1]
		off += 4
		name, ok := cstr()
		if !ok {
			break
		}
		var val []byte
		switch {
		case typ == 0x0B:
			s, ok := cstr()
			if !ok {
				return &FormatError{"attribute", int64(512 + start), "string value of " + name + " runs past the header"}
			}
			val = []byte(s)
		case typ == 0x0C:
			if off+8 > len(buf) {
				return &FormatError{"attribute", int64(512 + start), "length of " + name + " runs past the header"}
			}
			n := binary.LittleEndian.Uint64(buf[off:])
			off += 8
			if n > uint64(len(buf)-off) {
				return &FormatError{"attribute", int64(512 + start), fmt.Sprintf("%s claims %d bytes, header has %d left", name, n, len(buf)-off)}
			}
			val = append([]byte(nil), buf[off:off+int(n)]...)
			off += int(n)
		case fixedSize[typ] > 0:
			n := fixedSize[typ]
			if off+n > len(buf) {
				return &FormatError{"attribute", int64(512 + start), "value of " + name + " runs past the header"}
			}
			val = append([]byte(nil), buf[off:off+n]...)
			off += n
		default:
			return &FormatError{"attribute", int64(512 + start), fmt.Sprintf("unknown attribute type 0x%02x", typ)}
		}
		e.Attributes = append(e.Attributes, Attribute{Name: name, Type: typ, Flag: flag, Value: val})
	}
	return &FormatError{"attribute", 512 + int64(off), "attribute list not terminated inside the 4096-byte header"}
}

// packHeader re-serialises the header block, as the GCM additional data.
func packHeader(version uint32, attrs []Attribute) []byte {
	var b bytes.Buffer
	b.Write(make([]byte, 512))
	for _, a := range attrs {
		b.Write([]byte{a.Type, a.Flag, 0, 0})
		b.WriteString(a.Name)
		b.WriteByte(0)
		switch {
		case a.Type == 0x0B:
			b.Write(a.Value)
			b.WriteByte(0)
		case a.Type == 0x0C:
			binary.Write(&b, binary.LittleEndian, uint64(len(a.Value)))
			b.Write(a.Value)
		default:
			b.Write(a.Value)
		}
	}
	b.Write(make([]byte, 4))
	if r := b.Len() % BlockSize; r != 0 {
		b.Write(make([]byte, BlockSize-r))
	}
	out := b.Bytes()
	copy(out, headerMagic)
	binary.LittleEndian.PutUint32(out[504:], uint32(len(out)-512))
	binary.LittleEndian.PutUint32(out[508:], version)
	return out
}

// Decrypt checks key against the key hash, decrypts and authenticates the
// payload with the given additional data (normally AAD) and returns the
// archive inside.
func (e *Envelope) Decrypt(key []byte, aad string) ([]byte, error) {
	h := sha256.Sum256(append([]byte(e.CipherName), key...))
	if subtle.ConstantTimeCompare(h[:], e.KeyHash) != 1 {
		return nil, ErrWrongKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongKey, err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(e.IV))
	if err != nil {
		return nil, fmt.Errorf("%w: IV of %d bytes: %v", ErrUnsupported, len(e.IV), err)
	}
	if len(e.tag) != gcm.Overhead() {
		gcm, err = cipher.NewGCMWithTagSize(block, len(e.tag))
		if err != nil || len(e.IV) != gcm.NonceSize() {
			return nil, fmt.Errorf("%w: tag of %d bytes with IV of %d bytes", ErrUnsupported, len(e.tag), len(e.IV))
		}
	}
	n := e.size - 2*BlockSize
	ct := make([]byte, n, n+int64(len(e.tag)))
	if _, err := e.r.ReadAt(ct, BlockSize); err != nil {
		return nil, fmt.Errorf("envelope ciphertext: %w", err)
	}
	ct = append(ct, e.tag...)
	ad := append(packHeader(e.Version, e.Attributes), aad...)
	pt, err := gcm.Open(ct[:0], e.IV, ct, ad)
	if err != nil {
		return nil, ErrAuth
	}
	if len(pt) < BlockSize {
		return nil, &FormatError{"crypto footer", BlockSize, fmt.Sprintf("plaintext of %d bytes has no 4096-byte trailer", len(pt))}
	}
	foot := pt[len(pt)-512:]
	if string(foot[:len(cryptoMagic)]) != cryptoMagic {
		return nil, &FormatError{"crypto footer", BlockSize + int64(len(pt)) - 512, "magic DataTransformCryptoFooter missing"}
	}
	pad := int64(binary.LittleEndian.Uint32(foot[504:]))
	if pad > int64(len(pt))-BlockSize {
		return nil, &FormatError{"crypto footer", BlockSize + int64(len(pt)) - 512, fmt.Sprintf("padding %d exceeds the payload", pad)}
	}
	return pt[:int64(len(pt))-BlockSize-pad], nil
}

// KeyStore is a parsed encryption.info.
type KeyStore struct {
	Fields map[string]string
	Mode   string
}

// ParseKeyStore reads encryption.info (`name = "value"` lines).
func ParseKeyStore(text []byte) (*KeyStore, error) {
	ks := &KeyStore{Fields: map[string]string{}}
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		ks.Fields[strings.TrimSpace(name)] = strings.Trim(strings.TrimSpace(value), `"`)
	}
	ks.Mode = ks.Fields["mode"]
	if ks.Mode == "" {
		return nil, fmt.Errorf("%w: no mode", ErrKeyStore)
	}
	return ks, nil
}

// Key derives the archive key. It returns ErrTPM when mode is not NONE.
func (ks *KeyStore) Key() (key []byte, keyID string, err error) {
	if ks.Mode != "NONE" {
		return nil, "", fmt.Errorf("%w (encryption.info mode %q): the key never leaves the TPM of the original host, so the archive cannot be decrypted offline; boot the original hardware, or use a vm-support bundle or another configuration backup", ErrTPM, ks.Mode)
	}
	data, ok := ks.Fields["ConfigEncData"]
	if !ok {
		return nil, "", fmt.Errorf("%w: mode NONE without ConfigEncData", ErrKeyStore)
	}
	f := map[string][]byte{}
	for _, part := range strings.Split(data, ":") {
		name, value, _ := strings.Cut(part, "=")
		v, err := url.QueryUnescape(strings.TrimSpace(value))
		if err != nil {
			return nil, "", fmt.Errorf("%w: ConfigEncData field %s: %v", ErrKeyStore, name, err)
		}
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			f[strings.TrimSpace(name)] = b
		} else {
			f[strings.TrimSpace(name)] = nil
		}
	}
	for _, n := range []string{"keyId", "data1", "data2"} {
		if f[n] == nil {
			return nil, "", fmt.Errorf("%w: ConfigEncData field %s missing or not base64", ErrKeyStore, n)
		}
	}
	key, err = deriveKey(f["data1"], f["data2"])
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrKeyStore, err)
	}
	return key, uuidString(f["keyId"]), nil
}

func uuidString(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

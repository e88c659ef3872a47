package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
)

// SealParams are the secrets a host without a TPM stores in encryption.info.
type SealParams struct {
	KeyID []byte // 16 bytes
	Data1 []byte
	Data2 []byte
	IV    []byte // 12 bytes
}

// Seal wraps archive the way the notes describe ESXi doing it for a host
// without a TPM and returns local.tgz.ve and encryption.info. It exists for
// tests and fixture generators: vmfsrecover itself never writes an envelope
// into a recovered configuration.
func Seal(archive []byte, p SealParams) (ve, info []byte, err error) {
	key, err := deriveKey(p.Data1, p.Data2)
	if err != nil {
		return nil, nil, err
	}
	return sealWithKey(archive, key, p)
}

func deriveKey(data1, data2 []byte) ([]byte, error) {
	return pbkdf2.Key(sha256.New, string(append(append([]byte(nil), data1...), kdfSuffix...)), data2, kdfIterations, 32)
}

func sealWithKey(archive, key []byte, p SealParams) (ve, info []byte, err error) {
	keyHash := sha256.Sum256(append([]byte("AES-256-GCM"), key...))
	attrs := []Attribute{
		{Name: "vmware.keyInfo", Type: 0x0B, Value: []byte(uuidString(p.KeyID))},
		{Name: "vmware.cipherName", Type: 0x0B, Value: []byte("AES-256-GCM")},
		{Name: "vmware.keyHash", Type: 0x0C, Value: keyHash[:]},
		{Name: "vmware.iv", Type: 0x0C, Value: p.IV},
	}
	hdr := packHeader(2, attrs)
	if len(hdr) != BlockSize {
		return nil, nil, fmt.Errorf("envelope header of %d bytes does not fit one block", len(hdr))
	}
	pad := (16 - len(archive)%16) % 16
	pt := make([]byte, len(archive)+pad+BlockSize)
	copy(pt, archive)
	foot := pt[len(pt)-512:]
	copy(foot, cryptoMagic)
	binary.LittleEndian.PutUint32(foot[504:], uint32(pad))
	binary.LittleEndian.PutUint32(foot[508:], 1)

	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(p.IV))
	if err != nil {
		return nil, nil, err
	}
	sealed := gcm.Seal(nil, p.IV, pt, append(append([]byte(nil), hdr...), AAD...))
	ct, tag := sealed[:len(pt)], sealed[len(pt):]

	aead := make([]byte, BlockSize)
	copy(aead, aeadMagic)
	copy(aead[32:], tag)
	binary.LittleEndian.PutUint32(aead[32+4056:], uint32(len(tag)))
	binary.LittleEndian.PutUint32(aead[32+4056+4:], 1)

	ve = append(append(hdr, ct...), aead...)
	b64 := func(b []byte) string { return url.QueryEscape(base64.StdEncoding.EncodeToString(b)) }
	info = fmt.Appendf(nil, ".encoding = \"UTF-8\"\nincludeKeyCache = \"FALSE\"\nmode = \"NONE\"\nConfigEncData = \"keyId=%s:data1=%s:data2=%s:version=1\"\n",
		b64(p.KeyID), b64(p.Data1), b64(p.Data2))
	return ve, info, nil
}

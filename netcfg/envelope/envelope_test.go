package envelope

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

var params = SealParams{
	KeyID: []byte("0123456789abcdef"),
	Data1: []byte("data-one:\x00\xff+/="),
	Data2: []byte("salt-two"),
	IV:    []byte("WMV_\x00\x00\x00\x00\x00\x00\x00\x00"),
}

func seal(t testing.TB, archive []byte) ([]byte, []byte) {
	ve, info, err := Seal(archive, params)
	if err != nil {
		t.Fatal(err)
	}
	return ve, info
}

func open(t *testing.T, ve, info []byte) ([]byte, error) {
	t.Helper()
	ks, err := ParseKeyStore(info)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := ks.Key()
	if err != nil {
		return nil, err
	}
	e, err := Open(bytes.NewReader(ve), int64(len(ve)))
	if err != nil {
		return nil, err
	}
	return e.Decrypt(key, AAD)
}

func TestRoundTrip(t *testing.T) {
	// Derive the key once: 100 000 PBKDF2 rounds per size are slow under -race.
	key, err := deriveKey(params.Data1, params.Data2)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 15, 16, 4095, 100000} {
		archive := bytes.Repeat([]byte{0x1f, 0x8b, 7}, n)[:n]
		ve, _, err := sealWithKey(archive, key, params)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Open(bytes.NewReader(ve), int64(len(ve)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Decrypt(key, AAD)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, archive) {
			t.Fatalf("%d bytes: plaintext differs", n)
		}
	}
}

func TestHeaderFields(t *testing.T) {
	ve, info := seal(t, []byte("x"))
	e, err := Open(bytes.NewReader(ve), int64(len(ve)))
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := ParseKeyStore(info)
	key, id, _ := ks.Key()
	if e.KeyInfo != id || id != "30313233-3435-3637-3839-616263646566" {
		t.Errorf("key id %q, keystore %q", e.KeyInfo, id)
	}
	want := sha256.Sum256(append([]byte("AES-256-GCM"), key...))
	if !bytes.Equal(e.KeyHash, want[:]) || e.CipherName != "AES-256-GCM" || len(e.IV) != 12 {
		t.Errorf("header: %+v", e)
	}
	if !strings.Contains(string(info), `mode = "NONE"`) {
		t.Errorf("info: %s", info)
	}
}

func TestWrongKeyDamageAndTPM(t *testing.T) {
	ve, info := seal(t, bytes.Repeat([]byte("config"), 1000))
	ks, _ := ParseKeyStore(info)
	key, _, err := ks.Key() // derived once, through encryption.info
	if err != nil {
		t.Fatal(err)
	}
	decrypt := func(b []byte, k []byte) error {
		e, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		_, err = e.Decrypt(k, AAD)
		return err
	}
	if err := decrypt(ve, key); err != nil {
		t.Fatalf("intact envelope: %v", err)
	}

	other := params
	other.Data2 = []byte("another salt")
	otherKey, _ := deriveKey(other.Data1, other.Data2)
	if err := decrypt(ve, otherKey); !errors.Is(err, ErrWrongKey) {
		t.Errorf("other key: %v, want ErrWrongKey", err)
	}
	bad := bytes.Clone(ve)
	bad[BlockSize+100] ^= 1
	if err := decrypt(bad, key); !errors.Is(err, ErrAuth) {
		t.Errorf("flipped ciphertext: %v, want ErrAuth", err)
	}

	bad = bytes.Clone(ve)
	bad[len(bad)-BlockSize+40] ^= 1 // inside the tag
	if err := decrypt(bad, key); !errors.Is(err, ErrAuth) {
		t.Errorf("flipped tag: %v, want ErrAuth", err)
	}

	bad = bytes.Clone(ve)
	bad[0] = 'X'
	var fe *FormatError
	if err := decrypt(bad, key); !errors.Is(err, ErrNotEnvelope) || !errors.As(err, &fe) || fe.Off != 0 {
		t.Errorf("bad magic: %v", err)
	}

	if err := decrypt(ve[:BlockSize+10], key); !errors.Is(err, ErrNotEnvelope) {
		t.Errorf("truncated: %v", err)
	}

	tpm := []byte(strings.Replace(string(info), `mode = "NONE"`, `mode = "TPM"`, 1))
	if _, err := open(t, ve, tpm); !errors.Is(err, ErrTPM) {
		t.Errorf("TPM mode: %v, want ErrTPM", err)
	}
	if _, err := ParseKeyStore([]byte("includeKeyCache = \"FALSE\"\n")); !errors.Is(err, ErrKeyStore) {
		t.Errorf("no mode: %v", err)
	}
}

func TestAttributeBounds(t *testing.T) {
	ve, _ := seal(t, []byte("x"))
	bad := bytes.Clone(ve)
	// vmware.keyHash's u64 length: after "vmware.keyInfo" and
	// "vmware.cipherName" attributes; find the name and overwrite the length.
	i := bytes.Index(bad, []byte("vmware.keyHash\x00"))
	copy(bad[i+15:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	_, err := Open(bytes.NewReader(bad), int64(len(bad)))
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Struct != "attribute" {
		t.Errorf("huge attribute length: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	ve, _ := seal(f, []byte("seed"))
	f.Add(ve[:BlockSize])
	f.Fuzz(func(t *testing.T, hdr []byte) {
		buf := make([]byte, 3*BlockSize)
		copy(buf, hdr)
		copy(buf[len(buf)-BlockSize:], ve[len(ve)-BlockSize:])
		e, err := Open(bytes.NewReader(buf), int64(len(buf)))
		if err != nil {
			return
		}
		if _, err := e.Decrypt(make([]byte, 32), AAD); err == nil {
			t.Fatal("random key decrypted")
		}
	})
}

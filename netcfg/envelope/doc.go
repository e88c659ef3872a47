// Package envelope decrypts the configuration archive of ESXi 7.0 U2 and
// later: local.tgz.ve, a "DataTransformEnvelope" sealed with AES-256-GCM,
// whose key is described by encryption.info next to it in state.tgz.
//
// encryption.info is `name = "value"` text. mode NONE means the host had no
// TPM: the key is PBKDF2-HMAC-SHA256 over data1 followed by a fixed ASCII
// string, salted with data2, 100 000 iterations, 32 bytes, where data1 and
// data2 come from the colon-separated, URL-escaped base64 fields of
// ConfigEncData (keyId, data1, data2, version). VMware calls this
// "obfuscation, not encryption". Any other mode seals the key in the host's
// TPM, which never leaves the chip: offline decryption is impossible and
// Decrypt returns ErrTPM.
//
// Envelope layout (little-endian):
//
//	block 0, 4096 bytes: magic "DataTransformEnvelope" (21 bytes), zero pad
//	    to 504, u32 size (bytes of header after the first 512), u32 version
//	    (2); from 512 a list of attributes: u8 type, u8 flag, u16 0,
//	    NUL-terminated name, value (type 0x0B NUL-terminated string,
//	    0x0C u64 length + bytes, 1..10 fixed-size integers and floats),
//	    ended by a type-0 byte.
//	ciphertext: everything between block 0 and the last block.
//	last block, 4096 bytes: magic "DataTransformAeadFooter" (23), pad to 32,
//	    4056 data bytes, u32 size, u32 version (1); the first size data
//	    bytes are the GCM tag.
//
// The GCM additional data is the header block re-serialised (512 bytes with
// magic, size and version, the attributes, zero padding to a 4096 multiple)
// followed by "ESXConfiguration". The plaintext ends in a 4096-byte trailer
// whose last 512 bytes are a "DataTransformCryptoFooter" (25-byte magic, pad
// to 504, u32 padding, u32 version); the archive is the plaintext minus that
// trailer minus padding bytes.
//
// Required attributes: vmware.keyInfo (key id), vmware.cipherName
// ("AES-256-GCM"), vmware.keyHash = SHA-256(cipherName || key), which lets a
// wrong key be told apart from a damaged file; vmware.iv holds the 12-byte
// nonce. The layout is taken from the research notes (dissect.hypervisor's
// reading of ESXi's crypto-util); the fixed-size attribute types 1..10 are
// that source's guess by size.
package envelope

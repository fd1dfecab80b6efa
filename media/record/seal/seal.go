package seal

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// Magic starts every sealed file.
const Magic = "HUSHSEAL"

const (
	version    = 1
	nonceSize  = 12
	tagSize    = 16
	fileIDSize = 16
	// recHeader is a record's plaintext framing: length, offset, final, nonce.
	recHeader = 4 + 8 + 1 + nonceSize
	// MaxRecord is the largest payload one record carries.
	MaxRecord = 1 << 20
	// maxField bounds the header's variable fields.
	maxField = 4096
)

// Kind says what a sealed file holds.
type Kind uint8

// Kinds.
const (
	KindWAV     Kind = 1
	KindSidecar Kind = 2
)

// IsSealed reports whether b starts with the sealed-file magic.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, []byte(Magic)) }

// Header is a sealed file's header.
type Header struct {
	Kind        Kind
	FileID      [fileIDSize]byte
	RecordingID string
	KeyID       string
	Wrapped     []byte // the DEK, wrapped by KeyID
}

// marshal encodes h.
func (h *Header) marshal() []byte {
	b := make([]byte, 0, len(Magic)+2+fileIDSize+6+len(h.RecordingID)+len(h.KeyID)+len(h.Wrapped))
	b = append(b, Magic...)
	b = append(b, version, byte(h.Kind))
	b = append(b, h.FileID[:]...)
	for _, f := range [][]byte{[]byte(h.RecordingID), []byte(h.KeyID), h.Wrapped} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// ParseHeader decodes the header at the start of b and returns it with its
// length. It never panics on any input.
func ParseHeader(b []byte) (Header, int, error) {
	var h Header
	if !IsSealed(b) {
		return h, 0, ErrNotSealed
	}
	p := len(Magic)
	if len(b) < p+2+fileIDSize {
		return h, 0, fmt.Errorf("%w: %d bytes", ErrBadHeader, len(b))
	}
	if b[p] != version {
		return h, 0, fmt.Errorf("%w: version %d", ErrBadHeader, b[p])
	}
	h.Kind = Kind(b[p+1])
	if h.Kind != KindWAV && h.Kind != KindSidecar {
		return h, 0, fmt.Errorf("%w: kind %d", ErrBadHeader, h.Kind)
	}
	p += 2
	copy(h.FileID[:], b[p:])
	p += fileIDSize
	var fields [3][]byte
	for i := range fields {
		if len(b) < p+2 {
			return h, 0, fmt.Errorf("%w: cut in field %d", ErrBadHeader, i)
		}
		n := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if n == 0 || n > maxField || len(b) < p+n {
			return h, 0, fmt.Errorf("%w: field %d of %d bytes", ErrBadHeader, i, n)
		}
		fields[i] = b[p : p+n]
		p += n
	}
	h.RecordingID, h.KeyID = string(fields[0]), string(fields[1])
	h.Wrapped = bytes.Clone(fields[2])
	return h, p, nil
}

// dekAAD binds a wrapped DEK to its recording.
func dekAAD(recordingID string) []byte { return []byte("hush-dek-v1\x00" + recordingID) }

// Key is one recording's data key, unwrapped, with its wrapped form.
type Key struct {
	recordingID string
	keyID       string
	wrapped     []byte
	aead        cipher.AEAD
}

// NewKey makes a random data key for a recording, wrapped by kr's current KEK.
func NewKey(kr Keyring, recordingID string) (*Key, error) {
	dek := make([]byte, KeySize)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	keyID := kr.Current()
	wrapped, err := kr.Wrap(keyID, dek, dekAAD(recordingID))
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	aead, err := newGCM(dek)
	clear(dek)
	if err != nil {
		return nil, err
	}
	return &Key{recordingID: recordingID, keyID: keyID, wrapped: wrapped, aead: aead}, nil
}

// OpenKey unwraps the data key of a header. recordingID, when not empty,
// must be the header's.
func OpenKey(kr Keyring, h *Header, recordingID string) (*Key, error) {
	if recordingID != "" && h.RecordingID != recordingID {
		return nil, fmt.Errorf("%w: header names %q", ErrWrongRecording, h.RecordingID)
	}
	if kr == nil {
		return nil, fmt.Errorf("%w: no keyring configured for key %q", ErrUnknownKey, h.KeyID)
	}
	dek, err := kr.Unwrap(h.KeyID, h.Wrapped, dekAAD(h.RecordingID))
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(dek)
	clear(dek)
	if err != nil {
		return nil, err
	}
	return &Key{recordingID: h.RecordingID, keyID: h.KeyID, wrapped: h.Wrapped, aead: aead}, nil
}

// KeyID is the id of the KEK that wraps the key.
func (k *Key) KeyID() string { return k.keyID }

// header makes a new file header of kind with a random file id.
func (k *Key) header(kind Kind) (Header, error) {
	h := Header{Kind: kind, RecordingID: k.recordingID, KeyID: k.keyID, Wrapped: k.wrapped}
	_, err := rand.Read(h.FileID[:])
	return h, err
}

// aad is a record's additional data.
func aad(buf []byte, h *Header, index uint64, off int64, final bool) []byte {
	buf = append(buf[:0], h.FileID[:]...)
	buf = append(buf, byte(h.Kind))
	buf = binary.BigEndian.AppendUint64(buf, index)
	buf = binary.BigEndian.AppendUint64(buf, uint64(off))
	if final {
		return append(buf, 1)
	}
	return append(buf, 0)
}

// appendRecord seals payload as record index at off and appends it to dst.
func (k *Key) appendRecord(dst []byte, h *Header, index uint64, off int64, final bool, payload []byte, aadBuf []byte) ([]byte, error) {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)+tagSize))
	dst = binary.BigEndian.AppendUint64(dst, uint64(off))
	if final {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = append(dst, make([]byte, nonceSize)...)
	nonce := dst[start+recHeader-nonceSize : start+recHeader]
	if _, err := rand.Read(nonce); err != nil {
		return dst[:start], err
	}
	return k.aead.Seal(dst, nonce, payload, aad(aadBuf, h, index, off, final)), nil
}

// SealBytes seals a whole small file (a sidecar) as one final record.
func (k *Key) SealBytes(kind Kind, plain []byte) ([]byte, error) {
	if len(plain) > MaxRecord {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(plain))
	}
	h, err := k.header(kind)
	if err != nil {
		return nil, err
	}
	out := h.marshal()
	return k.appendRecord(out, &h, 0, 0, true, plain, nil)
}

// OpenBytes opens a whole sealed file held in memory: it must be complete
// (end with a final record). recordingID, when not empty, must match.
func OpenBytes(kr Keyring, b []byte, recordingID string) ([]byte, *Key, error) {
	r, err := Open(bytes.NewReader(b), int64(len(b)), kr, recordingID)
	if err != nil {
		return nil, nil, err
	}
	if err := r.Complete(); err != nil {
		return nil, nil, err
	}
	out := make([]byte, r.Size())
	if _, err := r.ReadAt(out, 0); err != nil {
		return nil, nil, err
	}
	return out, r.Key(), nil
}

package seal

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Keyring holds key-encryption keys. It is the seam for a KMS: Wrap and
// Unwrap may be calls to one, the key material never leaving it.
type Keyring interface {
	// Current is the id of the KEK new recordings are sealed with.
	Current() string
	// Wrap encrypts dek under the KEK keyID, binding aad.
	Wrap(keyID string, dek, aad []byte) ([]byte, error)
	// Unwrap reverses Wrap; an unknown key id is ErrUnknownKey, anything
	// that does not authenticate ErrUnwrap.
	Unwrap(keyID string, wrapped, aad []byte) ([]byte, error)
}

// KeySize is the size of every key: AES-256.
const KeySize = 32

// FileKeyring is a Keyring read from a key file: one key a line,
// "ID BASE64URL-KEY", blank lines and # comments allowed; the last key is
// the current one. Keys are never removed by hush: rotation appends one.
type FileKeyring struct {
	keys    map[string]cipher.AEAD
	current string
}

// validKeyID accepts 1-64 of [A-Za-z0-9._-].
func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ParseKeyFile parses a key file's contents. Errors name the line, never
// key material.
func ParseKeyFile(b []byte) (*FileKeyring, error) {
	kr := &FileKeyring{keys: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !validKeyID(f[0]) {
			return nil, fmt.Errorf("%w: line %d: want \"ID KEY\" with ID of [A-Za-z0-9._-]", ErrBadKeyFile, n)
		}
		key, err := base64.RawURLEncoding.DecodeString(f[1])
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("%w: line %d: key is not %d bytes of unpadded base64url", ErrBadKeyFile, n, KeySize)
		}
		if _, dup := kr.keys[f[0]]; dup {
			return nil, fmt.Errorf("%w: line %d: key id %q appears twice", ErrBadKeyFile, n, f[0])
		}
		aead, err := newGCM(key)
		if err != nil {
			return nil, err
		}
		kr.keys[f[0]] = aead
		kr.current = f[0]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
	}
	if kr.current == "" {
		return nil, fmt.Errorf("%w: no key", ErrBadKeyFile)
	}
	return kr, nil
}

// LoadKeyFile reads and parses a key file.
func LoadKeyFile(path string) (*FileKeyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kr, err := ParseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

// Current is the id of the last key of the file.
func (k *FileKeyring) Current() string { return k.current }

// IDs lists the key ids the keyring holds.
func (k *FileKeyring) IDs() []string {
	out := make([]string, 0, len(k.keys))
	for id := range k.keys {
		out = append(out, id)
	}
	return out
}

// Wrap seals dek with the KEK: a random 12-byte nonce, then the ciphertext.
func (k *FileKeyring) Wrap(keyID string, dek, aad []byte) ([]byte, error) {
	aead, ok := k.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, keyID)
	}
	out := make([]byte, nonceSize, nonceSize+len(dek)+tagSize)
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[:nonceSize], dek, aad), nil
}

// Unwrap opens what Wrap sealed.
func (k *FileKeyring) Unwrap(keyID string, wrapped, aad []byte) ([]byte, error) {
	aead, ok := k.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, keyID)
	}
	if len(wrapped) < nonceSize+tagSize {
		return nil, ErrUnwrap
	}
	dek, err := aead.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w with key %q", ErrUnwrap, keyID)
	}
	return dek, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// newKeyLine makes a fresh key and its key-file line; the id is the UTC
// date and random hex, so ids sort by age and never collide.
func newKeyLine(now time.Time) (string, string, error) {
	var key [KeySize]byte
	var suffix [4]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", "", err
	}
	id := now.UTC().Format("20060102") + "-" + hex.EncodeToString(suffix[:])
	return id, id + " " + base64.RawURLEncoding.EncodeToString(key[:]) + "\n", nil
}

// GenerateKeyFile creates a key file holding one new key, readable by its
// owner only (0600, its directory created 0700). It refuses to overwrite
// a file that exists (os.ErrExist).
func GenerateKeyFile(path string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	id, line, err := newKeyLine(time.Now())
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString("# hush recording key-encryption keys: ID KEY, the last one is current.\n" +
		"# Keep every key: recordings sealed with an old one need it to open.\n" + line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return id, syncDir(filepath.Dir(path))
}

// AppendKey adds a new key to an existing key file; it becomes the current
// one (rotation). Old keys stay, so old recordings still open.
func AppendKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if _, err := ParseKeyFile(b); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	id, line, err := newKeyLine(time.Now())
	if err != nil {
		return "", err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, line...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return id, syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

package seal

import "errors"

// Sentinel errors. Functions wrap them with %w and context; test with errors.Is.
var (
	// ErrNotSealed means the bytes do not start with a sealed file's magic.
	ErrNotSealed = errors.New("seal: not a sealed file")
	// ErrBadHeader means a sealed file's header is malformed.
	ErrBadHeader = errors.New("seal: malformed header")
	// ErrWrongRecording means the header names another recording than expected.
	ErrWrongRecording = errors.New("seal: file belongs to another recording")
	// ErrUnknownKey means the keyring has no key with the header's key id.
	ErrUnknownKey = errors.New("seal: unknown key-encryption key")
	// ErrUnwrap means the data key does not unwrap with the named KEK: wrong
	// key material, or an altered header.
	ErrUnwrap = errors.New("seal: data key does not unwrap")
	// ErrTampered means a record other than the last fails authentication:
	// the file was altered, reordered or spliced.
	ErrTampered = errors.New("seal: record fails authentication")
	// ErrTruncated means a file that should be complete has no final record.
	ErrTruncated = errors.New("seal: file is cut: no final record")
	// ErrBadKeyFile means a key file does not parse.
	ErrBadKeyFile = errors.New("seal: invalid key file")
	// ErrClosed is returned by a Writer after Finish or Close.
	ErrClosed = errors.New("seal: writer closed")
	// ErrTooLarge rejects a write larger than a record may hold.
	ErrTooLarge = errors.New("seal: record too large")
)

package audit

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrRecord: a line is not a well-formed audit record (bad JSON, not
	// canonical, missing fields, or its own hash does not match).
	ErrRecord = errors.New("malformed audit record")
	// ErrChain: a record does not follow the one before it (seq or prev).
	ErrChain = errors.New("audit chain broken")
	// ErrDigits: a field holds a card-like digit run (see package doc), which could be a card
	// number; the record is not written.
	ErrDigits = errors.New("audit field holds a digit run that could be a card number")
	// ErrLocked: another process has the audit log open.
	ErrLocked = errors.New("audit log in use by another process")
	// ErrClosed: the log is closed, or failed and stopped accepting records.
	ErrClosed = errors.New("audit log closed")
)

// LineError locates a problem in an audit file.
type LineError struct {
	Line int   // 1-based
	Err  error // wraps ErrRecord or ErrChain
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause, so errors.Is(err, ErrChain) works.
func (e *LineError) Unwrap() error { return e.Err }

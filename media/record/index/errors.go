package index

import "errors"

// Sentinel errors. Functions wrap them with %w and context; test with errors.Is.
var (
	// ErrNotFound means no recording has this id.
	ErrNotFound = errors.New("index: recording not found")
	// ErrBadToken means a page token was not made by List.
	ErrBadToken = errors.New("index: invalid page token")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("index: closed")
)

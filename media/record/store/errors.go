package store

import "errors"

// Sentinel errors. Functions wrap them with %w and context; test with errors.Is.
var (
	// ErrNotFound means no recording has this id.
	ErrNotFound = errors.New("store: recording not found")
	// ErrHeld refuses to erase a recording on legal hold.
	ErrHeld = errors.New("store: recording is on legal hold")
	// ErrInProgress refuses to erase or hold a recording still being written.
	ErrInProgress = errors.New("store: recording in progress")
	// ErrBusy means another operation on the recording is running.
	ErrBusy = errors.New("store: recording busy")
	// ErrObjectStore wraps a failure of the object store.
	ErrObjectStore = errors.New("store: object store")
	// ErrChecksum means an uploaded object does not read back as the file.
	ErrChecksum = errors.New("store: uploaded object does not match")
)

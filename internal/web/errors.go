package web

import "errors"

// Sentinel errors.
var (
	// ErrWAV: a recording's file is not the WAV hush writes.
	ErrWAV = errors.New("not a hush recording WAV")
)

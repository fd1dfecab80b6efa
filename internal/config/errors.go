package config

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of them
// (test with errors.Is); errors about a key are *KeyError values.
var (
	// ErrSyntax: the configuration file is not well-formed YAML, or not a
	// single YAML mapping.
	ErrSyntax = errors.New("invalid YAML")
	// ErrUnknownKey: a key in the file is not a configuration key.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey: a key appears twice in the same YAML mapping.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrInvalid: a value cannot be parsed or fails validation.
	ErrInvalid = errors.New("invalid value")
	// ErrUsage: the command line is malformed (unknown flag, stray argument).
	ErrUsage = errors.New("invalid command line")
)

// KeyError reports a problem with one configuration key.
type KeyError struct {
	Key    string // dotted YAML path, e.g. "media.port_min"
	Source string // where the value came from: "file.yaml:12", "env HUSH_LOG_LEVEL", "flag --x"; empty after merging
	Reason string // human-readable reason, e.g. "must be in 1024..65535, got 70000"
	Err    error  // the sentinel: ErrInvalid, ErrUnknownKey, ErrDuplicateKey, ErrSyntax
}

func (e *KeyError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("config: %s (%s): %s", e.Key, e.Source, e.Reason)
}

// Unwrap returns the sentinel, so errors.Is(err, ErrInvalid) works.
func (e *KeyError) Unwrap() error { return e.Err }

func invalid(key, source, format string, args ...any) *KeyError {
	return &KeyError{Key: key, Source: source, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

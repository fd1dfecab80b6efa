package session

import "errors"

// Domain errors. The API maps each to one gRPC status code (internal/api).
var (
	ErrNotFound           = errors.New("session not found")
	ErrAlreadyExists      = errors.New("call id already has an active session")
	ErrDraining           = errors.New("server is draining and takes no new sessions")
	ErrTooManySessions    = errors.New("session limit reached")
	ErrPortsExhausted     = errors.New("media port range exhausted")
	ErrInvalid            = errors.New("invalid argument")
	ErrUnsupported        = errors.New("not implemented yet")
	ErrWatchLagged        = errors.New("watcher fell too far behind; watch again for a fresh snapshot")
	ErrRequestIDReused    = errors.New("request id was already used for a different request")
	ErrSessionEnded       = errors.New("session has ended")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrCollecting         = errors.New("another payment client is collecting this session's digits")
	errMediaUnavailable   = errors.New("media unavailable")
)

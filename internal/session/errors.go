package session

import (
	"errors"
	"fmt"
)

// Domain errors. The API maps each to one gRPC status code (internal/api).
var (
	ErrNotFound        = errors.New("session not found")
	ErrAlreadyExists   = errors.New("call id already has an active session")
	ErrDraining        = errors.New("server is draining and takes no new sessions")
	ErrTooManySessions = errors.New("session limit reached")
	ErrPortsExhausted  = errors.New("media port range exhausted")
	// ErrPortUnavailable: a moved session's port cannot be bound here (yet): the node it
	// comes from still holds it, or it is not in this node's range.
	ErrPortUnavailable    = errors.New("media port not available")
	ErrInvalid            = errors.New("invalid argument")
	ErrUnsupported        = errors.New("not available in this configuration")
	ErrWatchLagged        = errors.New("watcher fell too far behind; watch again for a fresh snapshot")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrCollecting         = errors.New("another payment client is collecting this session's digits")
	// ErrRequestIDReused: a request id this caller already used, for this method (and
	// session), came with a different request. Nothing was changed.
	ErrRequestIDReused = errors.New("request_id was already used for a different request")
	// ErrRequestInProgress: an identical request is still running; retry.
	ErrRequestInProgress = errors.New("an identical request with this request_id is still in progress")
	// ErrUnsafe: a request that would let card data through where hush keeps it out (a
	// key played into a masked direction, or toward a customer under secure capture). A
	// failed precondition: it may be done once the session's state allows it.
	ErrUnsafe = fmt.Errorf("%w: refused as unsafe", ErrFailedPrecondition)
)

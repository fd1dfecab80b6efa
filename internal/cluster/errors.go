package cluster

import "errors"

var (
	// ErrBadRecord: a directory entry that does not parse or holds impossible values.
	ErrBadRecord = errors.New("cluster: bad session record")
	// ErrFenced: another node holds a newer claim on the session (its fencing token is
	// higher); this node must stop running it.
	ErrFenced = errors.New("cluster: session claimed by another node")
	// ErrDirectory: the session directory (Redis) did not answer.
	ErrDirectory = errors.New("cluster: session directory unreachable")
	// ErrMoving: the session is moving (being taken over or handed over); retry.
	ErrMoving = errors.New("cluster: session is moving to another node; retry")
	// ErrNoTarget: no live node shares this node's media address to hand sessions to.
	ErrNoTarget = errors.New("cluster: no node to hand sessions over to")

	// errLocal and errNotFound are the router's lookups that are not failures: the
	// session runs here, or no node runs it.
	errLocal    = errors.New("session runs here")
	errNotFound = errors.New("session not in the directory")
)

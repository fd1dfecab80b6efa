package background

import "errors"

// Sentinel errors.
var (
	// ErrBadNice rejects a nice value outside 0..19.
	ErrBadNice = errors.New("background: nice outside 0..19")
	// ErrPriority: a pool thread could not lower its own priority.
	ErrPriority = errors.New("background: cannot set thread priority")
)

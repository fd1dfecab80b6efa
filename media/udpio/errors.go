package udpio

import "errors"

var (
	// ErrUnavailable: the engine asked for cannot run on this system (not
	// Linux, or the kernel or a sandbox refuses it).
	ErrUnavailable = errors.New("udpio: I/O engine unavailable")
	// ErrUnknown: New got a kind it does not know.
	ErrUnknown = errors.New("udpio: unknown I/O engine")
	// ErrRealtime: Options.Priority could not be given to the engine's
	// workers (it needs CAP_SYS_NICE or an RLIMIT_RTPRIO that allows it, and
	// an engine with worker threads).
	ErrRealtime = errors.New("udpio: real-time priority")
	// ErrClosed: the engine is closed.
	ErrClosed = errors.New("udpio: closed")

	errShortWrite = errors.New("udpio: short datagram write")
)

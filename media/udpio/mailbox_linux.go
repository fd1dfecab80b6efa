//go:build linux && (amd64 || arm64)

package udpio

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// mailbox carries attach, detach and stop operations to an engine worker (epoll,
// io_uring) and wakes it through an eventfd the worker polls with its sockets.
type mailbox struct {
	evfd   int
	mu     sync.Mutex
	ops    []epollOp
	closed bool
}

// submit queues op, wakes the worker and waits until the worker ran it.
func (m *mailbox) submit(op epollOp, worker string) error {
	op.done = make(chan error, 1)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.ops = append(m.ops, op)
	if op.stop {
		m.closed = true
	}
	m.mu.Unlock()
	one := [8]byte{1}
	if _, err := unix.Write(m.evfd, one[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("udpio: waking %s worker: %w", worker, err)
	}
	return <-op.done
}

// take clears the wake-up (buf: 8 bytes) and returns the queued operations.
func (m *mailbox) take(buf []byte) []epollOp {
	unix.Read(m.evfd, buf)
	m.mu.Lock()
	defer m.mu.Unlock()
	ops := m.ops
	m.ops = nil
	return ops
}

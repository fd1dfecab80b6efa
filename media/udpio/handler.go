package udpio

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// MaxDatagram is the largest datagram an engine receives whole. A receive
// that fills MaxDatagram+1 octets may have been truncated by the kernel:
// the handler gets n > MaxDatagram and should drop it.
const MaxDatagram = 2048

// Handler is what an engine hands one socket's datagrams and release times
// to. Its methods run on the one goroutine that serves the socket (never
// two at once), must not block, and on the packet path must not allocate.
type Handler interface {
	// Packet handles a datagram of n octets from src, in buf (which has
	// room for MaxDatagram+1 octets and is reused after Packet returns).
	// age is how long before now the kernel received it (0: unknown), now
	// when the engine read it (zero: unknown). It reports false to stop
	// the socket's service (the portable engine: its socket is closing).
	Packet(buf []byte, n int, src netip.AddrPort, age time.Duration, now time.Time) bool
	// Due reports when Expire must run next, given the time now; ok is
	// false when nothing waits for a time.
	Due(now time.Time) (at time.Time, ok bool)
	// Expire runs when the time Due reported has passed (now: zero means
	// read the clock). caughtUp says the engine has read every datagram
	// that reached the socket by now.
	Expire(now time.Time, caughtUp bool)
	// GraceDue reports whether what is due by now needs the socket read
	// first (Expire's caughtUp): the engine then reads it before Expire.
	GraceDue(now time.Time) bool
	// SendFailed reports a send the engine queued for this handler (a
	// SendFunc call that returned nil) that failed later.
	SendFailed()
	// Warmer: the engine warms a batch of handlers before handling it.
	Warmer
	// Timer is the engine's bookkeeping of the handler's release time,
	// which the handler embeds (so it shares the handler's cache lines);
	// only the engine touches its fields.
	Timer() *Timer
	// Close runs when the engine stops serving the socket.
	Close()
}

// Work is what a warm-up prepares for.
type Work uint8

const (
	WarmPacket  Work = iota // Packet
	WarmRelease             // Expire
)

// Warmer warms its memory in levels (see warm.go): for a batch, the
// engine runs Warm(w, 0) for every handler, then Warm(w, 1), ..., up to
// the deepest WarmLevels of the batch. Level 0 may only hint the handler's
// own memory; level k may read only what levels below k hinted. WarmLevels
// must not change once the handler is attached; Warm must change nothing
// and ignore levels out of its range.
type Warmer interface {
	WarmLevels() int
	Warm(w Work, level int)
}

// Timer is an engine's entry for a handler in its release timers. The
// handler embeds it and returns it from its Timer method; the engine owns
// the fields.
type Timer struct {
	h      Handler
	fd     int   // the socket, for a read before a release (epoll)
	at     int64 // the live entry's time, ns since the timers' epoch
	timed  bool  // the timers hold a live entry at at
	closed bool  // the handler was closed
	levels int   // h's warm-up levels
}

// SendFunc sends datagram b from socket out to dst. It must not keep b.
type SendFunc func(out Socket, b []byte, dst netip.AddrPort) error

// Socket is one UDP socket: a net.UDPConn served through Go's netpoller
// (the portable engine), or a raw non-blocking descriptor an engine polls
// itself (Listen; Engine.Raw). The zero Socket is none.
type Socket struct {
	conn *net.UDPConn
	fd   int32 // 16 bytes in all: the packet path returns Sockets
	raw  bool  // fd is the socket
}

// ConnSocket is conn as a Socket.
func ConnSocket(conn *net.UDPConn) Socket { return Socket{conn: conn} }

// Conn is the socket's net.UDPConn; nil for a raw socket or none.
func (s Socket) Conn() *net.UDPConn { return s.conn }

// Close closes the socket.
func (s Socket) Close() error {
	switch {
	case s.conn != nil:
		return s.conn.Close()
	case s.raw:
		return rawClose(int(s.fd))
	}
	return nil
}

// WriteTo sends b to dst from the socket.
func (s Socket) WriteTo(b []byte, dst netip.AddrPort) error {
	if s.conn != nil {
		_, err := s.conn.WriteToUDPAddrPort(b, dst)
		return err
	}
	return rawSendTo(int(s.fd), b, dst)
}

// Write is Socket.WriteTo as a SendFunc: the portable engine's, and the
// epoll engine's.
func Write(out Socket, b []byte, dst netip.AddrPort) error { return out.WriteTo(b, dst) }

// Listen binds a raw, non-blocking UDP socket to ap, for an engine whose
// Raw is true; receive timestamps are enabled. Not on every system
// (ErrUnavailable).
func Listen(ap netip.AddrPort) (Socket, error) {
	fd, err := rawListen(ap)
	if err != nil {
		return Socket{}, err
	}
	return Socket{fd: int32(fd), raw: true}, nil
}

// Endpoint is a socket to serve and how to make its handler: New gets the
// engine's send function and whether the engine drives release times
// exactly (its own timers: true) or with a read deadline (the portable
// engine: false, where a timeout costs an allocation).
type Endpoint struct {
	Socket Socket
	New    func(send SendFunc, exact bool) Handler
}

// Group is sockets an engine serves together, on one goroutine (a call's:
// so each of its directions has one owner). Attach it, then Detach it; the
// engine keeps its bookkeeping in the Group.
type Group struct {
	Endpoints []Endpoint
	// Unblock, if set, is run by the portable engine's Detach to make its
	// blocked reads return: it closes the sockets.
	Unblock func()

	slot    int // the worker serving the group
	closing atomic.Bool
	wg      sync.WaitGroup
}

// Engine serves Groups of sockets. New creates one; a daemon shares it
// among its calls and closes it after them.
type Engine interface {
	// Name is the engine's kind as New accepts it.
	Name() string
	// Close stops the engine. Groups still attached stop being served.
	Close() error
	// Raw reports whether the engine wants raw sockets (Listen) rather
	// than net.UDPConns (ConnSocket).
	Raw() bool
	// Attach starts serving g's sockets: each Endpoint's handler is made
	// and gets the socket's datagrams.
	Attach(g *Group) error
	// Detach stops serving g's sockets; when it returns no engine
	// goroutine touches g's handlers or sockets any more, and the
	// handlers' Close ran.
	Detach(g *Group)
}

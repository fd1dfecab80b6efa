package relay

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Engine does a relay's socket I/O: it serves the sockets of the Calls
// attached to it, hands each received datagram to the shared pipeline
// (receiver.packet: process, rate gate, delay line, send) and drives the
// masked directions' delay lines. Engines differ only in how they wait for
// and move datagrams; the pipeline and its stages are the same for all.
//
// A daemon creates one Engine with NewEngine and passes it to every Call
// with WithEngine; Calls without one use the portable engine. Close it
// after the Calls that use it. The methods that attach Calls are
// unexported: engines are implemented in this package only.
type Engine interface {
	// Name is the engine's kind as NewEngine accepts it.
	Name() string
	// Close stops the engine. Calls still attached stop being served.
	Close() error

	// raw: the engine wants raw descriptors (LegSockets.rtp.fd), not
	// net.UDPConns.
	raw() bool
	// attach starts serving c's sockets.
	attach(c *Call) error
	// detach stops serving c's sockets; when it returns no engine goroutine
	// touches c or its sockets any more, and the receivers' close ran.
	// c.closing is set before. For the portable engine it also closes the
	// sockets (that is how its blocked reads return).
	detach(c *Call)
}

// Engine kinds, for NewEngine and the media.engine setting.
const (
	EnginePortable = "portable" // a goroutine per socket, Go's netpoller; any OS
	EngineEpoll    = "epoll"    // Linux: worker goroutines, own epoll, recvmmsg
	EngineIOURing  = "io_uring" // Linux 6.0+: multishot receives, batched submission
	EngineAuto     = "auto"     // the best that works here: io_uring, else epoll, else portable
)

// EngineOptions tunes NewEngine. The zero value picks the defaults.
type EngineOptions struct {
	// Workers is the epoll engine's number of worker goroutines, each
	// with its own epoll instance; 0 means GOMAXPROCS/2 (at least 1).
	Workers int
	// Linger is how long an epoll worker under load waits before polling
	// again, so that one wake-up collects the datagrams of many sockets
	// (at telephony rates the kernel's per-wakeup work is most of the
	// relay's CPU). It adds at most Linger to a packet's latency and is
	// only used when the worker's recent packet rate would bring at least
	// two datagrams per Linger. 0 means DefaultLinger; negative disables.
	Linger time.Duration
	// Priority, 1..99, runs the epoll and io_uring engines' workers under
	// SCHED_RR at that real-time priority, so other work on the host (and
	// hushd's own control plane, recording writers and collector) cannot
	// preempt the media path. 0 (the default) leaves them in the host's
	// ordinary time sharing. Needs CAP_SYS_NICE or RLIMIT_RTPRIO, else
	// NewEngine fails with ErrRealtime; the kernel's real-time throttling
	// (sched_rt_runtime_us) still leaves the rest of the host its share.
	Priority int
}

// DefaultLinger is EngineOptions.Linger's default: a quarter of the added
// latency budget (1 ms p99).
const DefaultLinger = 250 * time.Microsecond

// NewEngine creates an engine of the given kind ("" means portable). A kind
// this system cannot run returns an error wrapping ErrEngineUnavailable;
// EngineAuto falls back instead and never fails for that reason.
func NewEngine(kind string, opts EngineOptions) (Engine, error) {
	switch kind {
	case "", EnginePortable:
		if opts.Priority != 0 {
			return nil, fmt.Errorf("%w: the portable engine has no worker threads to prioritise", ErrRealtime)
		}
		return portableEngine{}, nil
	case EngineEpoll:
		return newEpollEngine(opts)
	case EngineIOURing:
		return newURingEngine(opts)
	case EngineAuto:
		// io_uring first: as cheap as epoll per packet here and about half
		// its median latency (it wakes on N completions, not after a fixed
		// linger); epoll where io_uring is refused; portable elsewhere.
		for _, mk := range []func(EngineOptions) (Engine, error){newURingEngine, newEpollEngine} {
			e, err := mk(opts)
			if err == nil {
				return e, nil
			}
			if !errors.Is(err, ErrEngineUnavailable) {
				return nil, err
			}
		}
		return portableEngine{}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEngine, kind)
}

// portableEngine serves each socket with its own goroutine doing blocking
// reads through Go's netpoller into its own buffer, and sends on the same
// goroutine (no queue, so no added jitter). Each datagram costs a wake-up
// of that goroutine; the epoll engine batches them.
type portableEngine struct{}

func (portableEngine) Name() string { return EnginePortable }
func (portableEngine) Close() error { return nil }
func (portableEngine) raw() bool    { return false }

func (portableEngine) attach(c *Call) error {
	for l := range numLegs {
		s := c.legs[l].socks
		c.wg.Add(1)
		go c.readLoop(l, kindRTP, s.RTP)
		if !s.mux {
			c.wg.Add(1)
			go c.readLoop(l, kindRTCP, s.RTCP)
		}
	}
	return nil
}

// detach closes the sockets, which unblocks the reads, and waits.
func (portableEngine) detach(c *Call) {
	for l := range c.legs {
		c.legs[l].socks.closeConns() // the error is Close's to report (closeConns runs once)
	}
	c.wg.Wait()
}

// readLoop serves one socket until it is closed.
func (c *Call) readLoop(in Leg, kind sockKind, conn *net.UDPConn) {
	defer c.wg.Done()
	buf := make([]byte, MaxPacketSize+1)
	r := newReceiver(c, in, kind, sock.write, releaseSlack)
	defer r.close()
	// The read deadline drives the delay line: it is the next release
	// time while packets are queued, none otherwise.
	var armed, skipArm bool
	var armedFor time.Duration
	for {
		if skipArm {
			skipArm = false
		} else if r.dl != nil {
			if at, ok := r.dl.due(r.dl.now()); ok {
				if !armed || at != armedFor {
					conn.SetReadDeadline(c.epoch.Add(at))
					armed, armedFor = true, at
				}
			} else if armed {
				conn.SetReadDeadline(time.Time{})
				armed = false
			}
		}
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if c.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if armed && errors.Is(err, os.ErrDeadlineExceeded) {
				armedFor = -1 // passed but still set: the next arm moves or clears it
				if pendingInput(conn) {
					// Packets queued while this goroutine was not running: read them
					// before releasing anything, so the detector sees the audio that
					// follows a due packet instead of the stall grace letting it out
					// undecided. Without a deadline the next read returns at once.
					conn.SetReadDeadline(time.Time{})
					armed = false
					skipArm = true
					continue
				}
				r.dl.expire(time.Time{}, true) // nothing left to read: pendingInput said so
			}
			continue // otherwise transient (e.g. ENOBUFS); the next read decides
		}
		if !r.packet(buf, n, src, 0, time.Time{}) {
			return
		}
	}
}

package udpio

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Engine kinds, for New.
const (
	Portable = "portable" // a goroutine per socket, Go's netpoller; any OS
	Epoll    = "epoll"    // Linux: worker goroutines, own epoll, recvmmsg
	IOURing  = "io_uring" // Linux 6.0+: multishot receives, batched submission
	Auto     = "auto"     // the best that works here: io_uring, else epoll, else portable
)

// Options tunes New. The zero value picks the defaults.
type Options struct {
	// Workers is the epoll and io_uring engines' number of worker
	// goroutines, each with its own epoll instance or ring; 0 means
	// GOMAXPROCS/2 (at least 1).
	Workers int
	// Linger is how long a worker under load waits before polling again,
	// so that one wake-up collects the datagrams of many sockets (at
	// telephony rates the kernel's per-wakeup work is most of the relay's
	// CPU). It adds at most Linger to a datagram's latency and is only used
	// when the worker's recent rate would bring at least two datagrams per
	// Linger. 0 means DefaultLinger; negative disables.
	Linger time.Duration
	// Priority, 1..99, runs the epoll and io_uring engines' workers under
	// SCHED_RR at that real-time priority, so other work on the host cannot
	// preempt the media path. 0 (the default) leaves them in the host's
	// ordinary time sharing. Needs CAP_SYS_NICE or RLIMIT_RTPRIO, else New
	// fails with ErrRealtime; the kernel's real-time throttling
	// (sched_rt_runtime_us) still leaves the rest of the host its share.
	Priority int
	// BusyPoll is how long an epoll or io_uring worker keeps polling for
	// datagrams and due times without sleeping before it waits in the
	// kernel. Waking a sleeping thread takes the kernel microseconds, but
	// a virtual machine whose hypervisor deschedules an idle vCPU can take
	// milliseconds to run it again; a polling worker keeps its vCPU busy.
	// The price is up to a core per worker whenever traffic arrives more
	// often than BusyPoll. 0 (the default) never polls.
	BusyPoll time.Duration
}

// DefaultLinger is Options.Linger's default: a quarter of an added latency
// budget of 1 ms.
const DefaultLinger = 250 * time.Microsecond

// New creates an engine of the given kind ("" means portable). A kind this
// system cannot run returns an error wrapping ErrUnavailable; Auto falls
// back instead and never fails for that reason.
func New(kind string, opts Options) (Engine, error) {
	switch kind {
	case "", Portable:
		if opts.Priority != 0 {
			return nil, fmt.Errorf("%w: the portable engine has no worker threads to prioritise", ErrRealtime)
		}
		if opts.BusyPoll > 0 {
			return nil, fmt.Errorf("%w: the portable engine has no worker threads to busy-poll", ErrUnavailable)
		}
		return portableEngine{}, nil
	case Epoll:
		return newEpollEngine(opts)
	case IOURing:
		return newURingEngine(opts)
	case Auto:
		// io_uring first: as cheap as epoll per datagram and about half its
		// median latency (it wakes on N completions, not after a fixed
		// linger); epoll where io_uring is refused; portable elsewhere.
		for _, mk := range []func(Options) (Engine, error){newURingEngine, newEpollEngine} {
			e, err := mk(opts)
			if err == nil {
				return e, nil
			}
			if !errors.Is(err, ErrUnavailable) {
				return nil, err
			}
		}
		return portableEngine{}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, kind)
}

// portableEngine serves each socket with its own goroutine doing blocking
// reads through Go's netpoller into its own buffer, and sends on the same
// goroutine (no queue, so no added jitter). Each datagram costs a wake-up
// of that goroutine; the epoll engine batches them.
type portableEngine struct{}

func (portableEngine) Name() string { return Portable }
func (portableEngine) Close() error { return nil }
func (portableEngine) Raw() bool    { return false }

func (portableEngine) Attach(g *Group) error {
	for _, ep := range g.Endpoints {
		if ep.Socket.conn == nil {
			return fmt.Errorf("udpio: the portable engine serves net.UDPConns, not raw sockets")
		}
	}
	for _, ep := range g.Endpoints {
		g.wg.Add(1)
		go readLoop(g, ep)
	}
	return nil
}

// Detach unblocks the reads (g.Unblock closes the sockets) and waits.
func (portableEngine) Detach(g *Group) {
	g.closing.Store(true)
	if g.Unblock != nil {
		g.Unblock()
	} else {
		for _, ep := range g.Endpoints {
			ep.Socket.Close()
		}
	}
	g.wg.Wait()
}

// readLoop serves one socket until it is closed.
func readLoop(g *Group, ep Endpoint) {
	defer g.wg.Done()
	conn := ep.Socket.conn
	buf := make([]byte, MaxDatagram+1)
	h := ep.New(Write, false)
	defer h.Close()
	// The read deadline drives the handler's release times: it is the
	// next one while the handler waits for one, none otherwise.
	var armed, skipArm bool
	var armedFor time.Time
	for {
		if skipArm {
			skipArm = false
		} else if at, ok := h.Due(time.Now()); ok {
			if !armed || !at.Equal(armedFor) {
				conn.SetReadDeadline(at)
				armed, armedFor = true, at
			}
		} else if armed {
			conn.SetReadDeadline(time.Time{})
			armed = false
		}
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if g.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if armed && errors.Is(err, os.ErrDeadlineExceeded) {
				armedFor = time.Time{} // passed but still set: the next arm moves or clears it
				if pendingInput(conn) {
					// Datagrams queued while this goroutine was not running: read them
					// before the expiry (caught up), so the handler sees what came before
					// its deadline. Without a deadline the next read returns at once.
					conn.SetReadDeadline(time.Time{})
					armed = false
					skipArm = true
					continue
				}
				h.Expire(time.Time{}, true) // nothing left to read: pendingInput said so
			}
			continue // otherwise transient (e.g. ENOBUFS); the next read decides
		}
		if !h.Packet(buf, n, src, 0, time.Time{}) {
			return
		}
	}
}

//go:build linux && (amd64 || arm64)

package udpio

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll engine: W workers, each a goroutine with its own epoll
// instance (W defaults to half of GOMAXPROCS: a worker blocked in a wait
// holds no P, and an idle P keeps the runtime's sysmon from retaking Ps
// and polling every 20 us, which cost 13% of the relay's CPU with one
// worker per P). A Group's sockets all go to one worker (round robin), so
// each handler runs on one goroutine (datagram order and the handlers'
// single owner hold, as in the portable engine). A worker waits in
// epoll_pwait2 with the earliest handler's due time as timeout, drains
// each readable socket with recvmmsg into its preallocated batch, hands
// each datagram to the socket's handler, which sends with sendto. Under load it lingers before polling again (Options.Linger)
// so one wake-up serves many sockets. The sockets are raw descriptors,
// never registered with Go's netpoller.

// recvBatch is the recvmmsg batch size: a socket at telephony rates rarely
// holds more than a few datagrams; a flood is read 32 at a time.
const recvBatch = 32

// maxDrainRounds bounds the recvmmsg calls per socket per wake-up, so a
// flooded socket cannot starve the worker's other sockets.
const maxDrainRounds = 4

// mmsghdr is struct mmsghdr (linux/socket.h) on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

type epollEngine struct {
	workers []*epollWorker
	next    atomic.Uint32
	once    sync.Once
}

type epollWorker struct {
	epfd   int
	linger time.Duration
	busy   time.Duration // Options.BusyPoll
	done   chan struct{}

	mailbox

	// Owned by the worker goroutine.
	slots  []*epollEntry
	free   []int32
	groups map[*Group][]int32
	timers releaseTimers // handlers waiting for a time
	events [128]unix.EpollEvent
	pwait2 bool // epoll_pwait2 works (Linux 5.11): sub-millisecond timeouts
	winAt  time.Time
	winN   int
	rate   float64 // datagrams per second, over the last window

	hdrs  [recvBatch]mmsghdr
	iovs  [recvBatch]unix.Iovec
	names [recvBatch]rawAddr
	ctls  [recvBatch][rxControlLen]byte
	bufs  [recvBatch][MaxDatagram + 1]byte
}

type epollEntry struct {
	h  Handler // nil once detached
	t  *Timer  // h's
	fd int
}

type epollOp struct {
	g      *Group
	attach bool
	stop   bool
	done   chan error
}

// ctlIndex marks the eventfd's epoll events.
const ctlIndex = -1

func newEpollEngine(opts Options) (Engine, error) {
	n, linger := rawEngineSetup(opts)
	e := &epollEngine{}
	for range n {
		w, err := newEpollWorker(linger)
		if err != nil {
			e.Close()
			return nil, err
		}
		w.busy = opts.BusyPoll
		ready := make(chan error, 1)
		go w.run(opts.Priority, ready)
		if err := <-ready; err != nil { // the worker has ended
			unix.Close(w.epfd)
			unix.Close(w.evfd)
			e.Close()
			return nil, err
		}
		e.workers = append(e.workers, w)
	}
	return e, nil
}

func newEpollWorker(linger time.Duration) (*epollWorker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%w: epoll_create1: %v", ErrUnavailable, err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("%w: eventfd: %v", ErrUnavailable, err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: ctlIndex}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("%w: epoll_ctl: %v", ErrUnavailable, err)
	}
	w := &epollWorker{epfd: epfd, mailbox: mailbox{evfd: evfd}, linger: linger, done: make(chan struct{}),
		groups: make(map[*Group][]int32), pwait2: true}
	for i := range recvBatch {
		w.iovs[i].Base = &w.bufs[i][0]
		w.iovs[i].SetLen(MaxDatagram + 1)
		w.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&w.names[i].sa))
		w.hdrs[i].hdr.Iov = &w.iovs[i]
		w.hdrs[i].hdr.SetIovlen(1)
		w.hdrs[i].hdr.Control = &w.ctls[i][0]
	}
	return w, nil
}

func (e *epollEngine) Name() string { return Epoll }
func (e *epollEngine) Raw() bool    { return true }

// Close stops the workers and closes their descriptors.
func (e *epollEngine) Close() error {
	e.once.Do(func() {
		for _, w := range e.workers {
			if w.submit(epollOp{stop: true}) == nil {
				<-w.done
			}
			unix.Close(w.epfd)
			unix.Close(w.evfd)
		}
	})
	return nil
}

func (e *epollEngine) Attach(g *Group) error {
	i := int(e.next.Add(1)-1) % len(e.workers)
	g.slot = i
	return e.workers[i].submit(epollOp{g: g, attach: true})
}

func (e *epollEngine) Detach(g *Group) {
	g.closing.Store(true)
	e.workers[g.slot].submit(epollOp{g: g})
}

// submit hands an operation to the worker and waits until it ran.
func (w *epollWorker) submit(op epollOp) error { return w.mailbox.submit(op, "epoll") }

// run is the worker's loop.
func (w *epollWorker) run(prio int, ready chan<- error) {
	defer close(w.done)
	// No LockOSThread: the worker never parks, it only blocks in
	// epoll_pwait2 and nanosleep, which keep its thread anyway (measured:
	// locking changed nothing). A real-time priority belongs to a thread,
	// though: then the worker keeps its thread, which ends with it.
	if prio != 0 {
		runtime.LockOSThread()
	}
	if err := realtime(prio); err != nil {
		ready <- err
		return
	}
	ready <- nil
	w.winAt = time.Now()
	for {
		n := w.wait(w.timeout())
		ctl, pkts := false, 0
		// Releases before receives, so a release is not delayed by the
		// batch (see uringWorker.reap); only decided ones, as what decides
		// the others may be in the batch.
		w.expire(false)
		for i := range n {
			idx := w.events[i].Fd
			if idx == ctlIndex {
				ctl = true
				continue
			}
			if e := w.slots[idx]; e != nil && e.h != nil {
				pkts += w.drain(e)
			}
		}
		w.expire(true)
		if ctl && w.control() {
			return
		}
		w.linger2(pkts)
	}
}

// timeout is how long the next wait may block: until the earliest handler's
// due time, or forever (-1).
func (w *epollWorker) timeout() time.Duration { return w.timers.timeout(time.Now()) }

// wait polls for events; it returns how many are in w.events. A busy-polling
// worker (Options.BusyPoll) first polls without sleeping.
func (w *epollWorker) wait(timeout time.Duration) int {
	n := 0
	ok, timeout := busyPoll(w.busy, timeout, func() bool { n = w.poll(0); return n > 0 })
	if ok {
		return n
	}
	return w.poll(timeout)
}

// poll waits for events up to timeout (-1: unbounded; 0: does not sleep).
func (w *epollWorker) poll(timeout time.Duration) int {
	for {
		var n int
		var err error
		if w.pwait2 {
			var ts *unix.Timespec
			var t unix.Timespec
			if timeout >= 0 {
				t = unix.NsecToTimespec(int64(timeout))
				ts = &t
			}
			// Direct calls, not through a func value: the pointer-to-uintptr
			// conversions must sit in the call expression (unsafe.Pointer rule 4).
			var r uintptr
			var e unix.Errno
			if rawWait(timeout) { // see wait_linux.go
				r, _, e = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(w.epfd),
					uintptr(unsafe.Pointer(&w.events[0])), uintptr(len(w.events)),
					uintptr(unsafe.Pointer(ts)), 0, 0)
			} else {
				r, _, e = unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(w.epfd),
					uintptr(unsafe.Pointer(&w.events[0])), uintptr(len(w.events)),
					uintptr(unsafe.Pointer(ts)), 0, 0)
			}
			n = int(r)
			if e != 0 {
				err = e
			}
			if e == unix.ENOSYS || e == unix.EPERM {
				w.pwait2 = false // older kernel or a seccomp filter: millisecond waits
				continue
			}
		} else {
			ms := -1
			if timeout >= 0 {
				ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
			}
			n, err = unix.EpollWait(w.epfd, w.events[:], ms)
		}
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				return 0
			}
			// EBADF after Close, or EINVAL: nothing sensible to poll.
			// Control still has to run, so report the eventfd.
			w.events[0] = unix.EpollEvent{Fd: ctlIndex}
			return 1
		}
		return n
	}
}

// drain reads a readable socket until it is empty (or maxDrainRounds
// batches) and hands each datagram to its handler.
func (w *epollWorker) drain(e *epollEntry) int {
	total := 0
	var now time.Time // the last batch's time (zero if none came)
	for range maxDrainRounds {
		for i := range recvBatch {
			w.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
			w.hdrs[i].hdr.SetControllen(rxControlLen)
		}
		// Raw: MSG_DONTWAIT never blocks (see rawSendTo).
		r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(e.fd),
			uintptr(unsafe.Pointer(&w.hdrs[0])), recvBatch, unix.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			break // EAGAIN: empty; anything else: the next wake-up retries
		}
		m := int(r)
		now = time.Now()
		wall := now.UnixNano()
		for i := range m {
			age := rxAge(w.ctls[i][:min(int(w.hdrs[i].hdr.Controllen), rxControlLen)], wall)
			if !e.h.Packet(w.bufs[i][:], int(w.hdrs[i].n), w.names[i].addrPort(), age, now) {
				return total
			}
		}
		total += m
		if m < recvBatch {
			break
		}
	}
	w.timers.watch(e.t, now)
	w.winN += total
	return total
}

// expire runs the handlers whose time is due. caughtUp: the wake-up's
// readable sockets were drained; a handler that asks for it (GraceDue) has
// its socket read once more first (it may have become readable since the
// wait returned).
func (w *epollWorker) expire(caughtUp bool) {
	if w.timers.empty() {
		return
	}
	now := time.Now()
	if !caughtUp {
		w.timers.expire(now, false, nil)
		return
	}
	w.timers.expire(now, true, w.expireRead)
}

// expireRead is expire's expiry of t's handler, reading its socket first when the
// handler asks for it (GraceDue).
func (w *epollWorker) expireRead(t *Timer) {
	now := time.Now()
	if t.h.GraceDue(now) {
		w.drain(&epollEntry{h: t.h, t: t, fd: t.fd})
	}
	t.h.Expire(now, true)
}

// linger2 waits a moment before the next poll when the recent rate says
// the wait will collect at least one more datagram per wake-up: fewer,
// fuller wake-ups, at most Linger of added latency.
func (w *epollWorker) linger2(pkts int) {
	if w.linger <= 0 || w.busy > 0 { // a busy-polling worker polls rather than sleep
		return
	}
	now := time.Now()
	if el := now.Sub(w.winAt); el >= 10*time.Millisecond {
		w.rate = float64(w.winN) / el.Seconds()
		w.winAt, w.winN = now, 0
	}
	if pkts == 0 || w.rate*w.linger.Seconds() < 1 {
		return
	}
	sleep := w.linger
	if !w.timers.empty() {
		if t := w.timeout(); t >= 0 && t < sleep {
			sleep = t
		}
	}
	if sleep > 0 {
		ts := unix.NsecToTimespec(int64(sleep))
		if rawWait(sleep) { // see wait_linux.go
			unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
		} else {
			unix.Nanosleep(&ts, nil)
		}
	}
}

// control runs the queued operations; it reports whether to stop.
func (w *epollWorker) control() bool {
	var b [8]byte
	ops := w.take(b[:])
	stop := false
	for _, op := range ops {
		switch {
		case op.stop:
			stop = true
			op.done <- nil
		case op.attach:
			op.done <- w.add(op.g)
		default:
			w.remove(op.g)
			op.done <- nil
		}
	}
	if stop {
		for g := range w.groups {
			w.remove(g)
		}
	}
	return stop
}

func (w *epollWorker) add(g *Group) error {
	for _, ep := range g.Endpoints {
		if err := w.addSock(g, ep); err != nil {
			w.remove(g)
			return err
		}
	}
	return nil
}

func (w *epollWorker) addSock(g *Group, ep Endpoint) error {
	fd := int(ep.Socket.fd)
	if !ep.Socket.raw {
		return fmt.Errorf("udpio: the epoll engine serves raw sockets (Listen)")
	}
	var idx int32
	if n := len(w.free); n > 0 {
		idx, w.free = w.free[n-1], w.free[:n-1]
	} else {
		idx = int32(len(w.slots))
		w.slots = append(w.slots, nil)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: idx}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.free = append(w.free, idx)
		return fmt.Errorf("udpio: epoll_ctl add: %w", err)
	}
	h := ep.New(Write, true)
	t := h.Timer()
	*t = Timer{h: h, fd: fd, levels: h.WarmLevels()}
	w.slots[idx] = &epollEntry{h: h, t: t, fd: fd}
	w.groups[g] = append(w.groups[g], idx)
	return nil
}

// remove stops serving g: its sockets leave the epoll set and its handlers
// close.
func (w *epollWorker) remove(g *Group) {
	for _, idx := range w.groups[g] {
		e := w.slots[idx]
		unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
		e.t.closed = true // a queued timer entry is dropped by expire
		e.h.Close()
		e.h, e.t = nil, nil
		w.slots[idx] = nil
		w.free = append(w.free, idx)
	}
	delete(w.groups, g)
}

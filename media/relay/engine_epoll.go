//go:build linux && (amd64 || arm64)

package relay

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
// worker per P). A Call's sockets all go to one worker (round
// robin), so each direction runs on one goroutine (packet order and the
// delay line's single owner hold, as in the portable engine). A worker
// waits in epoll_pwait2 with the earliest delay-line release as timeout,
// drains each readable socket with recvmmsg into its preallocated batch,
// runs each datagram through the shared pipeline and sends it with
// sendto. Under load it lingers before polling again (EngineOptions.Linger)
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
	done   chan struct{}

	mailbox

	// Owned by the worker goroutine.
	slots  []*epollEntry
	free   []int32
	calls  map[*Call][]int32
	timers releaseTimers // receivers whose delay line has packets queued
	events [128]unix.EpollEvent
	pwait2 bool // epoll_pwait2 works (Linux 5.11): sub-millisecond timeouts
	winAt  time.Time
	winN   int
	rate   float64 // datagrams per second, over the last window

	hdrs  [recvBatch]mmsghdr
	iovs  [recvBatch]unix.Iovec
	names [recvBatch]rawAddr
	ctls  [recvBatch][rxControlLen]byte
	bufs  [recvBatch][MaxPacketSize + 1]byte
}

type epollEntry struct {
	r  *receiver // nil once detached
	fd int
}

type epollOp struct {
	c      *Call
	attach bool
	stop   bool
	done   chan error
}

// ctlIndex marks the eventfd's epoll events.
const ctlIndex = -1

func newEpollEngine(opts EngineOptions) (Engine, error) {
	n, linger := rawEngineSetup(opts)
	e := &epollEngine{}
	for range n {
		w, err := newEpollWorker(linger)
		if err != nil {
			e.Close()
			return nil, err
		}
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
		return nil, fmt.Errorf("%w: epoll_create1: %v", ErrEngineUnavailable, err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("%w: eventfd: %v", ErrEngineUnavailable, err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: ctlIndex}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("%w: epoll_ctl: %v", ErrEngineUnavailable, err)
	}
	w := &epollWorker{epfd: epfd, mailbox: mailbox{evfd: evfd}, linger: linger, done: make(chan struct{}),
		calls: make(map[*Call][]int32), pwait2: true}
	for i := range recvBatch {
		w.iovs[i].Base = &w.bufs[i][0]
		w.iovs[i].SetLen(MaxPacketSize + 1)
		w.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&w.names[i].sa))
		w.hdrs[i].hdr.Iov = &w.iovs[i]
		w.hdrs[i].hdr.SetIovlen(1)
		w.hdrs[i].hdr.Control = &w.ctls[i][0]
	}
	return w, nil
}

func (e *epollEngine) Name() string { return EngineEpoll }
func (e *epollEngine) raw() bool    { return true }

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

func (e *epollEngine) attach(c *Call) error {
	i := int(e.next.Add(1)-1) % len(e.workers)
	c.engSlot = i
	return e.workers[i].submit(epollOp{c: c, attach: true})
}

func (e *epollEngine) detach(c *Call) {
	e.workers[c.engSlot].submit(epollOp{c: c})
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
			if e := w.slots[idx]; e != nil && e.r != nil {
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

// timeout is how long the next wait may block: until the earliest release
// of a delay line, or forever (-1).
func (w *epollWorker) timeout() time.Duration { return w.timers.timeout(time.Now()) }

// wait polls for events; it returns how many are in w.events.
func (w *epollWorker) wait(timeout time.Duration) int {
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
// batches) and runs each datagram through the pipeline.
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
			if !e.r.packet(w.bufs[i][:], int(w.hdrs[i].n), w.names[i].addrPort(), age, now) {
				return total
			}
		}
		total += m
		if m < recvBatch {
			break
		}
	}
	w.timers.watch(e.r, now)
	w.winN += total
	return total
}

// expire releases what is due on the queued delay lines and forgets the
// ones that became empty. caughtUp: the wake-up's readable sockets were
// drained; a line that would let an undecided packet go at its stall grace
// has its socket read once more first (it may have become readable since
// the wait returned), so only a stream that really stalled lets one go.
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

// expireRead is expire's release of r, reading its socket first when r is
// about to let a packet go at its stall grace.
func (w *epollWorker) expireRead(r *receiver) {
	now := time.Now()
	if r.dl.graceDue(now.Sub(r.c.epoch)) {
		w.drain(&epollEntry{r: r, fd: r.c.legs[r.in].socks.rtp.fd})
	}
	r.dl.expire(now, true)
}

// linger2 waits a moment before the next poll when the recent rate says
// the wait will collect at least one more datagram per wake-up: fewer,
// fuller wake-ups, at most Linger of added latency.
func (w *epollWorker) linger2(pkts int) {
	if w.linger <= 0 {
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
			op.done <- w.add(op.c)
		default:
			w.remove(op.c)
			op.done <- nil
		}
	}
	if stop {
		for c := range w.calls {
			w.remove(c)
		}
	}
	return stop
}

func (w *epollWorker) add(c *Call) error {
	for l := range numLegs {
		s := c.legs[l].socks
		if err := w.addSock(c, l, kindRTP, s.rtp.fd); err != nil {
			w.remove(c)
			return err
		}
		if !s.mux {
			if err := w.addSock(c, l, kindRTCP, s.rtcp.fd); err != nil {
				w.remove(c)
				return err
			}
		}
	}
	return nil
}

func (w *epollWorker) addSock(c *Call, l Leg, kind sockKind, fd int) error {
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
		return fmt.Errorf("relay: epoll_ctl add: %w", err)
	}
	w.slots[idx] = &epollEntry{r: newReceiver(c, l, kind, sock.write, 0), fd: fd}
	w.calls[c] = append(w.calls[c], idx)
	return nil
}

// remove stops serving c: its sockets leave the epoll set and its
// receivers close (the recording gets the frames still queued).
func (w *epollWorker) remove(c *Call) {
	for _, idx := range w.calls[c] {
		e := w.slots[idx]
		unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
		e.r.close()
		e.r = nil // closed: a queued timer entry is dropped by expire
		w.slots[idx] = nil
		w.free = append(w.free, idx)
	}
	delete(w.calls, c)
}

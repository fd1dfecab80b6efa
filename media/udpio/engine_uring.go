//go:build linux && (amd64 || arm64)

package udpio

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hushmedia/hush/media/internal/cpucache"
)

// The io_uring engine: like the epoll engine (workers, a group's sockets on
// one worker, raw sockets), but each worker owns a
// ring. Every socket has one multishot recvmsg outstanding (Linux 6.0) that
// picks buffers from the worker's provided buffer ring, so receiving costs
// no system call per socket; sends are queued as sendmsg entries and
// submitted with the next io_uring_enter, which also waits: for one
// completion when quiet, or under load for the completions expected in
// Linger (or Linger, whichever comes first), so one wake-up serves many
// sockets and one system call both sends and receives.

const (
	uringEntries    = 4096 // submission queue; completions are twice that
	uringBufs       = 2048 // provided buffers per worker (a power of two)
	uringNameLen    = unix.SizeofSockaddrInet6
	uringBufSize    = 2176 // recvmsg_out + name + control + MaxDatagram+1, rounded up
	uringSendSlots  = 1024 // sends in flight per worker; beyond, sendto directly
	uringMaxBatch   = 64   // most completions a loaded wait asks for
	uringKindShift  = 56
	uringKindRecv   = 1
	uringKindSend   = 2
	uringKindCtl    = 3
	uringKindCancel = 4
)

// A provided buffer holds recvmsg_out, the name, the control data and the largest payload.
var _ [uringBufSize - (16 + uringNameLen + rxControlLen + MaxDatagram + 1)]byte

type uringEngine struct {
	workers []*uringWorker
	next    atomic.Uint32
	once    sync.Once
}

type uringWorker struct {
	ring   *uring
	bufs   *bufRing
	linger time.Duration
	busy   time.Duration // Options.BusyPoll
	prio   int           // Options.Priority
	done   chan struct{}

	mailbox

	// Owned by the worker goroutine.
	slots   []*uringEntry
	free    []int32
	groups  map[*Group][]int32
	leaving map[*Group]chan error // detaching: done when its receives ended
	timers  releaseTimers
	recvHdr unix.Msghdr // template for multishot recvmsg: name and control sizes
	sends   []uringSend
	sfree   []int32
	cur     Handler // whose datagram or expiry is being handled (for send errors)
	queued  uint32  // sends queued since the last enter
	rate    float64
	winAt   time.Time
	winN    int
	wall    int64     // Unix ns when the current reap began (receive timestamps' reference)
	now     time.Time // the same instant, monotonic: the packets' batch time
	evbuf   [8]byte
	warmed  warmSet // warm's
}

type uringEntry struct {
	h      Handler // nil once detached
	t      *Timer  // h's
	g      *Group
	fd     int
	levels int  // h's warm-up levels
	active bool // a multishot receive is outstanding
	gone   bool // detaching: do not re-arm
}

// uringSend is one sendmsg in flight: the kernel reads it until the
// completion, so it lives in the worker, not on a stack.
type uringSend struct {
	hdr  unix.Msghdr
	iov  unix.Iovec
	addr rawAddr
	h    Handler // whose send it is (SendFailed); nil when none
	buf  [MaxDatagram]byte
}

func newURingEngine(opts Options) (Engine, error) {
	// Multishot recvmsg is Linux 6.0; an older kernel would answer every
	// arming with EINVAL, so it gets another engine instead.
	if maj, min, ok := kernelVersion(); !ok || maj < 6 {
		return nil, fmt.Errorf("%w: io_uring engine needs Linux 6.0 (have %d.%d)", ErrUnavailable, maj, min)
	}
	n, linger := rawEngineSetup(opts)
	e := &uringEngine{}
	for range n {
		w := &uringWorker{linger: linger, busy: opts.BusyPoll, prio: opts.Priority, done: make(chan struct{})}
		ready := make(chan error, 1)
		go w.run(ready)
		if err := <-ready; err != nil {
			e.Close()
			return nil, err
		}
		e.workers = append(e.workers, w)
	}
	return e, nil
}

// init sets up the worker's ring on the calling thread (the ring's single
// issuer: run locks the goroutine to it).
func (w *uringWorker) init() error {
	ring, err := newURing(uringEntries)
	if err != nil {
		return err
	}
	bufs, err := newBufRing(ring, 0, uringBufs, uringBufSize)
	if err != nil {
		ring.close()
		return err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		bufs.free()
		ring.close()
		return fmt.Errorf("%w: eventfd: %v", ErrUnavailable, err)
	}
	w.ring, w.bufs, w.evfd = ring, bufs, evfd
	w.groups = make(map[*Group][]int32)
	w.leaving = make(map[*Group]chan error)
	w.sends = make([]uringSend, uringSendSlots)
	w.recvHdr.Namelen = uringNameLen
	w.recvHdr.SetControllen(rxControlLen)
	for i := range w.sends {
		s := &w.sends[i]
		s.hdr.Name = (*byte)(unsafe.Pointer(&s.addr.sa))
		s.hdr.Iov = &s.iov
		s.hdr.SetIovlen(1)
		s.iov.Base = &s.buf[0]
		w.sfree = append(w.sfree, int32(i))
	}
	w.armCtl()
	return nil
}

func (e *uringEngine) Name() string { return IOURing }
func (e *uringEngine) Raw() bool    { return true }

func (e *uringEngine) Close() error {
	e.once.Do(func() {
		for _, w := range e.workers {
			if w.submit(epollOp{stop: true}) == nil {
				<-w.done
			}
			w.bufs.free()
			w.ring.close()
			unix.Close(w.evfd)
		}
	})
	return nil
}

func (e *uringEngine) Attach(g *Group) error {
	i := int(e.next.Add(1)-1) % len(e.workers)
	g.slot = i
	return e.workers[i].submit(epollOp{g: g, attach: true})
}

func (e *uringEngine) Detach(g *Group) {
	g.closing.Store(true)
	e.workers[g.slot].submit(epollOp{g: g})
}

// submit hands an operation to the worker and waits until it ran.
func (w *uringWorker) submit(op epollOp) error { return w.mailbox.submit(op, "io_uring") }

func ud(kind uint64, idx int32) uint64 { return kind<<uringKindShift | uint64(uint32(idx)) }

// armCtl polls the eventfd (multishot): control operations wake the wait.
func (w *uringWorker) armCtl() {
	s := w.ring.sqe()
	s.opcode = uringOpPollAdd
	s.fd = int32(w.evfd)
	s.len = uringPollAddMulti
	s.opFlags = unix.POLLIN
	s.userData = ud(uringKindCtl, 0)
}

// armRecv starts a socket's multishot receive.
func (w *uringWorker) armRecv(idx int32) {
	e := w.slots[idx]
	s := w.ring.sqe()
	if s == nil {
		return // the kernel refuses entries: the socket stays unarmed until the next try
	}
	s.opcode = uringOpRecvmsg
	s.fd = int32(e.fd)
	s.addr = uint64(uintptr(unsafe.Pointer(&w.recvHdr)))
	s.len = 1
	s.ioprio = uringRecvMultishot
	s.flags = uringSqeBufferSelect
	s.bufIndex = 0 // buffer group
	s.userData = ud(uringKindRecv, idx)
	e.active = true
}

// send is the handlers' SendFunc: it copies the datagram into a send slot
// and queues a sendmsg; the next enter submits it. Errors surface in the
// completion (the handler's SendFailed).
func (w *uringWorker) send(out Socket, b []byte, dst netip.AddrPort) error {
	n := len(w.sfree)
	if n == 0 || len(b) > MaxDatagram {
		return w.sendNow(out, b, dst)
	}
	s := w.ring.sqe()
	if s == nil {
		return w.sendNow(out, b, dst)
	}
	i := w.sfree[n-1]
	w.sfree = w.sfree[:n-1]
	sl := &w.sends[i]
	sl.addr.set(dst)
	sl.hdr.Namelen = sl.addr.len
	sl.iov.SetLen(copy(sl.buf[:], b))
	sl.h = w.cur
	s.opcode = uringOpSendmsg
	s.fd = int32(out.fd)
	s.addr = uint64(uintptr(unsafe.Pointer(&sl.hdr)))
	s.len = 1
	s.opFlags = unix.MSG_DONTWAIT
	s.userData = ud(uringKindSend, i)
	w.queued++
	return nil
}

// sendNow sends b at once, when no send slot or entry is free (a wake-up
// after a long stall can bring more than uringSendSlots packets). The sends
// already queued go first: a UDP send completes inside the enter that
// submits it, so flushing keeps the stream's order, where sending directly
// overtook them (TestURingSendKeepsOrderWithoutSlots).
func (w *uringWorker) sendNow(out Socket, b []byte, dst netip.AddrPort) error {
	if w.ring.pending() > 0 {
		w.flush()
	}
	return rawSendTo(int(out.fd), b, dst)
}

// flush submits the queued entries without waiting.
func (w *uringWorker) flush() {
	w.ring.enter(0, -1)
	w.queued = 0
}

func (w *uringWorker) run(ready chan<- error) {
	defer close(w.done)
	// The ring is created with IORING_SETUP_SINGLE_ISSUER and
	// DEFER_TASKRUN where the kernel has them (6.1): completions are then
	// only produced when this thread waits, and the wait wakes once when
	// enough are ready instead of once per datagram. Both need every
	// io_uring_enter from one thread. The thread is never unlocked; it
	// ends with the goroutine.
	runtime.LockOSThread()
	// Release times are exact to the microsecond; the default 50 µs timer
	// slack would let every timed wake-up run late by up to that much.
	// This thread only: it is locked and never given back.
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	if err := realtime(w.prio); err != nil {
		ready <- err
		return
	}
	if err := w.init(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	w.winAt = time.Now()
	for {
		w.wait()
		if w.reap() {
			return
		}
	}
}

// wait submits what is queued and waits for completions: one, or under
// load as many as Linger should bring, bounded by Linger and by the
// earliest handler's Due time.
func (w *uringWorker) wait() {
	r := w.ring
	if r.ready() > 0 {
		w.flush()
		return
	}
	timeout := int64(-1)
	if t := w.timeout(); t >= 0 {
		timeout = int64(t)
	}
	want := uint32(1)
	if w.linger > 0 {
		if exp := w.rate * w.linger.Seconds(); exp >= 2 {
			want = uint32(min(exp, uringMaxBatch))
			if timeout < 0 || timeout > int64(w.linger) {
				timeout = int64(w.linger)
			}
		}
	}
	// The queued sends complete during this enter (UDP sends do not wait)
	// and their completions must not end the wait for receives.
	want += w.queued
	w.queued = 0
	// A busy poll submits and runs the deferred task work that posts
	// completions, without sleeping.
	ok, left := busyPoll(w.busy, time.Duration(timeout), func() bool { r.getEvents(); return r.ready() >= want })
	if ok {
		return
	}
	r.enter(want, int64(left))
}

// reap handles the waiting completions; it reports whether to stop.
func (w *uringWorker) reap() bool {
	now := time.Now()
	w.now, w.wall = now, now.UnixNano()
	// Expiries first: a wake-up at a handler's Due time also finds the
	// receives that came meanwhile, and handling those first would delay its
	// sends by the whole batch. Not caught up: what the batch brings may
	// change what the handler may send (the expire below is caught up).
	w.expireAt(now, false)
	if w.queued > 0 {
		// Submit those sends now rather than with the next wait: handling the
		// batch first held each of them for the whole batch (-50 us median at 500
		// masked calls, for one io_uring_enter more per wake-up that expires).
		w.flush()
	}
	pkts, ctl := w.completions()
	if now := time.Now(); w.timers.graceDue(now) {
		// A handler due by now wants its socket read first (GraceDue). With
		// deferred task work, datagrams that reached a socket are only seen once
		// an enter runs the task work: run it, so the handler sees them.
		for range 4 {
			w.ring.getEvents()
			n, c := w.completions()
			pkts, ctl = pkts+n, ctl || c
			if n == 0 {
				break
			}
		}
	}
	w.expire()
	stop := false
	if ctl {
		stop = w.control()
	}
	w.winN += pkts
	if now := time.Now(); now.Sub(w.winAt) >= 10*time.Millisecond {
		w.rate = float64(w.winN) / now.Sub(w.winAt).Seconds()
		w.winAt, w.winN = now, 0
	}
	return stop
}

// completions handles the completions waiting in the ring: it returns the
// datagrams received and whether a control operation is waiting.
func (w *uringWorker) completions() (pkts int, ctl bool) {
	r := w.ring
	for range 8 { // bounded: completions keep coming while we handle them
		n := r.ready()
		if n == 0 {
			break
		}
		w.warm(n)
		for i := range n {
			c := r.cqe(i)
			kind, idx := c.userData>>uringKindShift, int32(uint32(c.userData))
			switch kind {
			case uringKindRecv:
				pkts += w.received(idx, c.res, c.flags)
			case uringKindSend:
				sl := &w.sends[idx]
				if c.res < 0 && sl.h != nil {
					sl.h.SendFailed()
				}
				sl.h = nil
				w.sfree = append(w.sfree, idx)
			case uringKindCtl:
				ctl = true
				if c.flags&uringCQEFMore == 0 {
					w.armCtl()
				}
			}
		}
		r.consume(n)
	}
	w.bufs.publish()
	return pkts, ctl
}

// warm starts the loads that handling the n waiting receive completions
// will wait on: the datagrams' buffers, and the handlers' warm-up levels
// for the whole batch (warm.go), so that their cache misses overlap instead
// of each packet waiting on its own. With a thousand streams every packet
// finds its stream's state out of cache.
func (w *uringWorker) warm(n uint32) {
	for i := range n {
		c := w.ring.cqe(i)
		if c.userData>>uringKindShift != uringKindRecv || c.flags&uringCQEFBuffer == 0 {
			continue
		}
		if e := w.slots[int32(uint32(c.userData))]; e != nil && e.h != nil {
			if !w.warmed.add(e.h, e.levels) {
				break
			}
			cpucache.Prefetch(unsafe.Pointer(&w.bufs.buf(uint16(c.flags >> uringCQEBufferShift))[16+uringNameLen+rxControlLen]))
		}
	}
	w.warmed.run(WarmPacket)
}

// received handles a multishot receive completion; it returns 1 when it
// carried a datagram.
func (w *uringWorker) received(idx int32, res int32, flags uint32) int {
	e := w.slots[idx]
	more := flags&uringCQEFMore != 0
	got := 0
	if flags&uringCQEFBuffer != 0 {
		id := uint16(flags >> uringCQEBufferShift)
		if res >= 0 && e != nil && !e.gone && e.h != nil {
			b := w.bufs.buf(id)
			out := (*uringRecvmsgOut)(unsafe.Pointer(&b[0]))
			name := (*rawAddr)(unsafe.Pointer(&b[16]))
			ctl := b[16+uringNameLen : 16+uringNameLen+rxControlLen]
			payload := b[16+uringNameLen+rxControlLen:]
			n := int(out.payloadlen)
			if out.flags&unix.MSG_TRUNC != 0 || n > MaxDatagram {
				n = MaxDatagram + 1
			}
			src := netip.AddrPort{}
			if out.namelen > 0 {
				src = name.addrPort()
			}
			age := rxAge(ctl[:min(int(out.controllen), rxControlLen)], w.wall)
			w.cur = e.h
			e.h.Packet(payload, n, src, age, w.now)
			w.cur = nil
			got = 1
		}
		w.bufs.put(id)
	}
	if e == nil {
		return got
	}
	if !more {
		e.active = false
		if e.gone {
			w.release(idx)
		} else {
			w.armRecv(idx) // ENOBUFS or an error ended the multishot: re-arm
		}
	}
	if got == 1 {
		w.timers.watch(e.t, w.now)
	}
	return got
}

func (w *uringWorker) timeout() time.Duration { return w.timers.timeout(time.Now()) }

// expire releases what is due, once the wake-up's completions were handled.
func (w *uringWorker) expire() {
	if w.timers.empty() {
		return
	}
	w.expireAt(time.Now(), true)
}

// expireAt releases what is due by now; caughtUp: see delayLine.expire.
func (w *uringWorker) expireAt(now time.Time, caughtUp bool) {
	w.timers.expire(now, caughtUp, func(t *Timer) {
		w.cur = t.h // sends made by the expiry belong to its handler (send errors)
		t.h.Expire(now, caughtUp)
		w.cur = nil
	})
}

// control runs queued operations; it reports whether to stop.
func (w *uringWorker) control() bool {
	// Submit the queued sends first: a detached call's sockets close when
	// control answers, and an entry submitted later could meet a reused
	// descriptor number. Submitted, the kernel holds the file.
	w.flush()
	ops := w.take(w.evbuf[:])
	stop := false
	for _, op := range ops {
		switch {
		case op.stop:
			stop = true
			for g := range w.groups {
				w.forget(g)
			}
			op.done <- nil
		case op.attach:
			op.done <- w.add(op.g)
		default:
			w.leave(op.g, op.done)
		}
	}
	return stop
}

func (w *uringWorker) add(g *Group) error {
	for _, ep := range g.Endpoints {
		if !ep.Socket.raw {
			w.forget(g)
			return fmt.Errorf("udpio: the io_uring engine serves raw sockets (Listen)")
		}
		w.addSock(g, ep)
	}
	return nil
}

func (w *uringWorker) addSock(g *Group, ep Endpoint) {
	var idx int32
	if n := len(w.free); n > 0 {
		idx, w.free = w.free[n-1], w.free[:n-1]
	} else {
		idx = int32(len(w.slots))
		w.slots = append(w.slots, nil)
	}
	h := ep.New(w.send, true)
	t := h.Timer()
	*t = Timer{h: h, fd: int(ep.Socket.fd), levels: h.WarmLevels()}
	w.slots[idx] = &uringEntry{h: h, t: t, g: g, fd: int(ep.Socket.fd), levels: t.levels}
	w.groups[g] = append(w.groups[g], idx)
	w.armRecv(idx)
}

// close ends e's handler: no datagram or expiry reaches it after.
func (e *uringEntry) close() {
	e.t.closed = true
	e.h.Close()
	e.h, e.t = nil, nil
}

// leave stops serving g: it cancels the receives and answers done once
// their last completions arrived (the kernel holds the sockets until
// then). The handlers close at once: no datagram of g is handled after.
func (w *uringWorker) leave(g *Group, done chan error) {
	idxs := w.groups[g]
	pending := false
	for _, idx := range idxs {
		e := w.slots[idx]
		e.gone = true
		e.close()
		if e.active {
			pending = true
			s := w.ring.sqe()
			if s != nil {
				s.opcode = uringOpAsyncCancel
				s.fd = -1
				s.addr = ud(uringKindRecv, idx)
				s.userData = ud(uringKindCancel, idx)
			}
		} else {
			w.release(idx)
		}
	}
	if !pending {
		delete(w.groups, g)
		done <- nil
		return
	}
	w.leaving[g] = done
}

// release frees a slot whose receive has ended, and finishes its group's
// detach when it was the last.
func (w *uringWorker) release(idx int32) {
	e := w.slots[idx]
	w.slots[idx] = nil
	w.free = append(w.free, idx)
	g := e.g
	for _, i := range w.groups[g] {
		// A slot of g released earlier may hold another group's socket by now.
		if o := w.slots[i]; o != nil && o.g == g {
			return
		}
	}
	delete(w.groups, g)
	if done, ok := w.leaving[g]; ok {
		delete(w.leaving, g)
		w.flush() // see control
		done <- nil
	}
}

// forget drops g without waiting for its receives (the engine is closing
// and the ring goes with it).
func (w *uringWorker) forget(g *Group) {
	for _, idx := range w.groups[g] {
		if e := w.slots[idx]; e != nil && e.h != nil {
			e.close()
		}
		w.slots[idx] = nil
	}
	delete(w.groups, g)
	if done, ok := w.leaving[g]; ok {
		delete(w.leaving, g)
		done <- nil
	}
}

// kernelVersion is the running kernel's major and minor version.
func kernelVersion() (major, minor int, ok bool) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return 0, 0, false
	}
	var v [2]int
	i := 0
	for _, ch := range u.Release {
		switch {
		case ch >= '0' && ch <= '9':
			v[i] = v[i]*10 + int(ch-'0')
		case ch == '.' && i == 0:
			i = 1
		default:
			return v[0], v[1], i == 1
		}
	}
	return v[0], v[1], i == 1
}

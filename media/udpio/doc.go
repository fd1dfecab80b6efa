// Package udpio does hush's UDP socket I/O: it serves sockets, receives
// their datagrams in batches, sends, and keeps the time of each socket's
// next deadline, handing every datagram and every deadline to the socket's
// Handler on one goroutine. What a datagram means is the Handler's
// (media/relay's receiver runs a call's packet path); this package names
// nothing of it.
//
// # Using it
//
// Make one Engine and share it:
//
//	eng, err := udpio.New(udpio.Auto, udpio.Options{})
//	...
//	s, err := udpio.Listen(addr) // when eng.Raw(); else udpio.ConnSocket(conn)
//	g := &udpio.Group{Endpoints: []udpio.Endpoint{{Socket: s, New: newHandler}}}
//	err = eng.Attach(g) // New runs for each socket; its Handler gets the datagrams
//	...
//	eng.Detach(g) // the handlers' Close ran when it returns
//	eng.Close()   // after the groups
//
// A Group's sockets are served by one goroutine, so a Handler and the
// other handlers of its group never run at once; a handler sends with the
// SendFunc it was made with, from any of the group's sockets.
//
// # Engines
//
//   - portable (portable.go, any OS): one goroutine per socket, blocking
//     reads through Go's netpoller; a handler's Due time is the socket's
//     read deadline.
//   - epoll (engine_epoll.go, Linux): a few worker goroutines, each with
//     its own epoll instance, a group on one worker. Sockets are raw
//     non-blocking descriptors (raw_linux.go) drained with recvmmsg; under
//     load a worker lingers (Options.Linger) so that one wake-up collects
//     many sockets' datagrams, and short waits are raw system calls
//     (wait_linux.go).
//   - io_uring (engine_uring.go, uring_linux.go; Linux 6.0, 6.1 for the
//     full effect): the epoll engine's layout, each worker owning a ring
//     with one multishot receive per socket from a provided buffer ring,
//     sends queued on the ring, and deferred task work so that the kernel
//     wakes the worker once per batch.
//
// New fails with ErrUnavailable when the kernel or a sandbox refuses an
// engine (containers often block io_uring_setup); Auto takes io_uring,
// else epoll, else portable. Workers take attach and detach requests
// through a mailbox (mailbox_linux.go) that wakes their wait.
//
// # Deadlines
//
// The epoll and io_uring engines keep each worker's handlers that wait
// for a time in a heap (timers.go): the earliest Due bounds the worker's
// wait, and Expire runs when it passes; the Timer a handler embeds is the
// heap's bookkeeping. Before an Expire whose handler says GraceDue, the
// engine reads what reached the sockets first. They pass each datagram's
// age: how long before the read the kernel received it (SO_TIMESTAMPNS,
// rxtime_linux.go).
//
// # Warm-up
//
// With a thousand streams each datagram finds its handler's memory out of
// cache. Before handling a batch the io_uring engine and the timers warm
// the batch's handlers in levels (warm.go): level 0 of every handler, then
// level 1, to the deepest a handler declares (Warmer), so the batch's
// cache misses overlap. A handler warms its own memory and its layers'.
package udpio

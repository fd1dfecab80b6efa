//go:build linux && (amd64 || arm64)

package udpio

import (
	"errors"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// A detaching call's slots are freed one by one as their cancelled receives end, and a
// slot freed early can be given to another call's socket before the others end. The
// detach must still finish: it used to wait for the reused slot, forever, and a session
// delete hung (found by ng call churn under load: hushload -ng -churn).
func TestURingDetachFinishesWhenItsSlotIsReused(t *testing.T) {
	if maj, _, ok := kernelVersion(); !ok || maj < 6 {
		t.Skip("the io_uring engine needs Linux 6.0")
	}
	runtime.LockOSThread() // the ring's single issuer
	defer runtime.UnlockOSThread()
	w := &uringWorker{done: make(chan struct{})}
	if err := w.init(); err != nil {
		if errors.Is(err, ErrUnavailable) {
			t.Skipf("io_uring: %v", err)
		}
		t.Fatal(err)
	}
	defer func() {
		w.bufs.free()
		w.ring.close()
		unix.Close(w.evfd)
	}()
	a, b := &Group{}, &Group{}
	// Group a has two sockets with receives outstanding (no real sockets: the test plays
	// the kernel's completions).
	for range 2 {
		h := newFake()
		w.slots = append(w.slots, &uringEntry{h: h, t: &h.tm, g: a, fd: -1, active: true})
	}
	w.groups[a] = []int32{0, 1}

	done := make(chan error, 1)
	w.leave(a, done) // cancels queued; a waits for its receives' last completions
	w.received(0, -int32(unix.ECANCELED), 0)
	// Slot 0 is free again and call b's socket takes it.
	w.addSock(b, Endpoint{Socket: Socket{fd: -1, raw: true}, New: func(SendFunc, bool) Handler { return newFake() }})
	if w.slots[0] == nil || w.slots[0].g != b {
		t.Fatalf("slot 0 was not reused by b: %+v", w.slots[0])
	}
	w.received(1, -int32(unix.ECANCELED), 0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatal("the detach of a never finished: it waits for a slot that is b's now")
	}
	if _, still := w.groups[a]; still || w.slots[0].g != b {
		t.Fatalf("after the detach: groups %v, slot 0 %+v", w.groups, w.slots[0])
	}
}

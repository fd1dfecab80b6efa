//go:build linux && (amd64 || arm64)

package loadgen

import (
	"net/netip"
	"testing"
	"time"
)

// TestBatchRxTime: every datagram of a batch carries the kernel's receive time, between
// the send and the read, so latency does not include the time the generator took to
// get to the read.
func TestBatchRxTime(t *testing.T) {
	a, b, err := openSockets(netip.MustParseAddr("127.0.0.1"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(a)
	defer closeAll(b)
	w, err := newBatchWriter(a[0], 4)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newBatchReader(b[0], 16)
	if err != nil {
		t.Fatal(err)
	}
	dst := makeSockaddr(addrOf(b[0]))
	before := time.Now().UnixNano()
	for i := range 3 {
		writePacket(w.next(&dst, packetLen), 0, 1, uint32(i), 0)
	}
	if failed, err := w.flush(); failed != 0 || err != nil {
		t.Fatalf("flush: %d failed, %v", failed, err)
	}
	_ = b[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	for got := 0; got < 3; {
		n, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		after := time.Now().UnixNano()
		for i := range n {
			k := r.rxTime(i)
			if k < before || k > after {
				t.Fatalf("datagram %d: kernel receive time %d outside [%d, %d]", got+i, k, before, after)
			}
		}
		got += n
	}
}

package loadgen

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestBatchRoundTrip: a batch written with sendmmsg arrives whole and in order through
// recvmmsg, and neither side allocates per batch.
func TestBatchRoundTrip(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	a, b, err := openSockets(lo, 1)
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
	send := func(from uint32) {
		for i := uint32(0); i < 4; i++ {
			writePacket(w.next(&dst, packetLen), 0, 1, from+i, int64(i))
		}
		if w.next(&dst, packetLen) != nil || !w.full() {
			t.Fatal("batch of 4 accepted a fifth datagram")
		}
		if failed, err := w.flush(); failed != 0 || err != nil {
			t.Fatalf("flush: %d failed, %v", failed, err)
		}
	}
	send(0)
	_ = b[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	var seqs []uint32
	for len(seqs) < 4 {
		n, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			h, ok, err := parsePacket(r.datagram(i), 0, 2)
			if err != nil || !ok {
				t.Fatalf("datagram %d: %v %v", i, ok, err)
			}
			seqs = append(seqs, h.seq)
		}
	}
	for i, s := range seqs {
		if s != uint32(i) {
			t.Fatalf("order %v", seqs)
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		send(10)
		for got := 0; got < 4; {
			n, err := r.read()
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
}

func TestMakeSockaddrIPv6(t *testing.T) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skip("no IPv6 loopback")
	}
	defer c.Close()
	s, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, _ := newBatchWriter(c, 1)
	dst := makeSockaddr(addrOf(s))
	writePacket(w.next(&dst, packetLen), 0, 0, 7, 0)
	if failed, err := w.flush(); failed != 0 || err != nil {
		t.Fatalf("%d %v", failed, err)
	}
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2048)
	n, err := s.Read(buf)
	if err != nil || n != packetLen {
		t.Fatalf("%d %v", n, err)
	}
}

func TestReceiverHandleAllocatesNothing(t *testing.T) {
	m := &media{nStreams: 4, rx: make([]streamRx, 4), cust: make([]*net.UDPConn, 1)}
	m.measure.Store(true)
	r := &receiver{m: m, side: 0}
	b := make([]byte, packetLen)
	seq := uint32(0)
	if n := testing.AllocsPerRun(100, func() {
		writePacket(b, 0, 2, seq, int64(seq)*int64(period))
		r.handle(b, int64(seq)*int64(period)+50000)
		seq++
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
	if m.rx[2].received != 101 || m.rx[2].reordered != 0 || r.lat.Count() != 101 || r.lat.Quantile(0.5) < 49*time.Microsecond {
		t.Fatalf("%+v lat %d %v", m.rx[2], r.lat.Count(), r.lat.Quantile(0.5))
	}
	// Constant transit: no jitter added.
	if m.rx[2].jitter[2] != 0 {
		t.Fatalf("jitter %d", m.rx[2].jitter[2])
	}
	// An older sequence number is a reordering; a packet of a customer-side stream on an
	// agent-side receiver is misrouted.
	writePacket(b, 0, 2, 3, 0)
	r.handle(b, 0)
	writePacket(b, 0, 3, 3, 0)
	r.handle(b, 0)
	if m.rx[2].reordered != 1 || r.misrouted != 1 {
		t.Fatalf("reordered %d misrouted %d", m.rx[2].reordered, r.misrouted)
	}
}

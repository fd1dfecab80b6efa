package relay

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestSetRemoteUnderTraffic flips the agent between two addresses while the
// customer streams: every packet reaches one of them, byte for byte, with
// nothing lost or dropped mid-swap.
func TestSetRemoteUnderTraffic(t *testing.T) { forEngines(t, testSetRemoteUnderTrafficOnEngine) }

func testSetRemoteUnderTrafficOnEngine(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit())
	b2 := newPeer(t, e.peers, false)
	type got struct {
		to  int
		pkt []byte
	}
	ch := make(chan got, 64)
	var wg sync.WaitGroup
	for i, conn := range []*net.UDPConn{e.b.s.RTP, b2.s.RTP} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				// Ends when the test closes the socket below.
				n, _, err := conn.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				ch <- got{i, append([]byte(nil), buf[:n]...)}
			}
		}()
	}
	const n = 400
	remotes := []netip.AddrPort{e.b.addr(), b2.addr()}
	counts := [2]int{}
	for i := range n {
		if i%10 == 0 {
			if err := c.SetRemote(Agent, LegConfig{Remote: remotes[i/10%2]}); err != nil {
				t.Fatal(err)
			}
		}
		p := rtpPacket(t, 8, uint16(i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		select {
		case g := <-ch:
			if string(g.pkt) != string(p) {
				t.Fatalf("packet %d corrupted or out of order", i)
			}
			if want := i / 10 % 2; g.to != want {
				t.Fatalf("packet %d went to remote %d, want %d", i, g.to, want)
			}
			counts[g.to]++
		case <-time.After(recvTimeout):
			t.Fatalf("packet %d lost", i)
		}
	}
	e.b.s.RTP.Close()
	b2.s.RTP.Close()
	wg.Wait()
	if counts[0]+counts[1] != n || counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("counts %v", counts)
	}
}

// TestCloseUnderTraffic closes a call while both peers keep sending: Close
// returns, the loops are gone (the race detector watches), and the ports
// are free.
func TestCloseUnderTraffic(t *testing.T) { forEngines(t, testCloseUnderTrafficOnEngine) }

func testCloseUnderTrafficOnEngine(t *testing.T) {
	e := newEnv(t, lo4, true, false)
	c, err := NewCall(e.alloc, e.explicit(), WithEngine(testEngine))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range []struct {
		conn *net.UDPConn
		to   netip.AddrPort
	}{{e.a.s.RTP, c.LocalRTP(Customer)}, {e.b.s.RTP, c.LocalRTP(Agent)}, {e.b.s.RTCP, c.LocalRTCP(Agent)}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := rtpPacket(t, 8, 1, 160)
			for range 100000 { // bounded; normally stopped much earlier
				select {
				case <-stop:
					return
				default:
				}
				s.conn.WriteToUDPAddrPort(p, s.to) // errors expected once closed
			}
		}()
	}
	// Let traffic flow: wait until the agent has received some.
	for range 5 {
		recv(t, e.b.s.RTP)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if e.alloc.InUse() != 0 {
		t.Fatalf("in use after close: %d", e.alloc.InUse())
	}
}

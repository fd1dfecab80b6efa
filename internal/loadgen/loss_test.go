package loadgen

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

func TestSeqRanges(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name    string
		periods int
		warmup  time.Duration
		hog     *Hog
		win     uint32
		hogs    [2]uint32
	}{
		{"no hog", 50, 200 * ms, nil, 10, [2]uint32{}},
		{"warm-up between packets", 50, 210 * ms, nil, 11, [2]uint32{}},
		{"no warm-up", 50, 0, nil, 0, [2]uint32{}},
		{"hog to the end", 50, 200 * ms, &Hog{After: 300 * ms}, 10, [2]uint32{25, 50}},
		{"hog for a while", 50, 200 * ms, &Hog{After: 300 * ms, For: 200 * ms}, 10, [2]uint32{25, 35}},
		{"hog past the end", 50, 200 * ms, &Hog{After: 300 * ms, For: time.Hour}, 10, [2]uint32{25, 50}},
		{"warm-up past the end", 50, time.Hour, &Hog{}, 50, [2]uint32{50, 50}},
	} {
		win, hogs := seqRanges(c.periods, c.warmup, c.hog)
		if win != c.win || hogs != c.hogs {
			t.Errorf("%s: window from %d, hog %v; want %d, %v", c.name, win, hogs, c.win, c.hogs)
		}
	}
}

// dropper is a relay that forwards each call's two directions and drops the packets
// whose RTP sequence number is in drop.
type dropper struct {
	t    *testing.T
	drop map[uint16]bool
	wg   sync.WaitGroup
}

func (d *dropper) Name() string { return "dropper" }
func (d *dropper) PID() int     { return 0 }

func (d *dropper) CreateCall(_ context.Context, _ int, customer, agent netip.AddrPort) (Call, error) {
	fromCust, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return Call{}, err
	}
	fromAgent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fromCust.Close()
		return Call{}, err
	}
	forward := func(in *net.UDPConn, to netip.AddrPort) {
		defer d.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, _, err := in.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			if n >= 4 && d.drop[binary.BigEndian.Uint16(buf[2:])] {
				continue
			}
			if _, err := in.WriteToUDPAddrPort(buf[:n], to); err != nil {
				d.t.Errorf("forwarding: %v", err)
			}
		}
	}
	d.wg.Add(2)
	go forward(fromCust, agent)
	go forward(fromAgent, customer)
	return Call{CustomerIn: fromCust.LocalAddr().(*net.UDPAddr).AddrPort(),
		AgentIn: fromAgent.LocalAddr().(*net.UDPAddr).AddrPort(),
		Close: func(context.Context) error {
			fromCust.Close()
			fromAgent.Close()
			return nil
		}}, nil
}

// TestRunLossByWindow: loss is counted over the run, over the measurement window and over
// the packets sent while the hog was to run, by the packets' place in their streams.
func TestRunLossByWindow(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// 50 packets a stream; the window opens at 10, the hog is to run for 25..34.
	d := &dropper{t: t, drop: map[uint16]bool{3: true, 4: true, 12: true, 27: true, 28: true, 29: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, d, Config{Calls: 2, Duration: time.Second, Warmup: 200 * time.Millisecond,
		Sockets: 2, IdleSettle: time.Millisecond,
		Hog: &Hog{Threads: 1, After: 300 * time.Millisecond, For: 200 * time.Millisecond, Bin: self}})
	d.wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	const streams = 4
	if res.Sent != streams*50 || res.Lost != streams*6 || res.LostWindow != streams*4 || res.HogLost != streams*3 {
		t.Fatalf("sent %d, lost %d, in the window %d, during the hog %d; want %d, %d, %d, %d",
			res.Sent, res.Lost, res.LostWindow, res.HogLost, streams*50, streams*6, streams*4, streams*3)
	}
}

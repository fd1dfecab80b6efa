package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/relay"
	"github.com/hushmedia/hush/media/relay/relaytest"
)

// smallDisk is the real file system with room for only so many bytes: a write past that
// writes what fits and fails with ENOSPC, as a full disk does.
type smallDisk struct {
	record.OSFS
	left atomic.Int64
}

func (d *smallDisk) OpenFile(name string, flag int, perm os.FileMode) (record.File, error) {
	f, err := d.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &smallFile{File: f, d: d}, nil
}

type smallFile struct {
	record.File
	d *smallDisk
}

// room takes up to n bytes of the disk's space and says how many it got.
func (f *smallFile) room(n int) (int, error) {
	for range 1000 {
		left := f.d.left.Load()
		k := min(int64(n), max(left, 0))
		if f.d.left.CompareAndSwap(left, left-k) {
			if int(k) < n {
				return int(k), syscall.ENOSPC
			}
			return n, nil
		}
	}
	return 0, syscall.ENOSPC
}

func (f *smallFile) Write(p []byte) (int, error) {
	k, full := f.room(len(p))
	n, err := f.File.Write(p[:k])
	if err != nil {
		return n, err
	}
	return n, full
}

func (f *smallFile) WriteAt(p []byte, off int64) (int, error) {
	k, full := f.room(len(p))
	n, err := f.File.WriteAt(p[:k], off)
	if err != nil {
		return n, err
	}
	return n, full
}

// stepClock is the recorder's clock, moved 20 ms per packet by the test, so the recording
// timeline follows the packets without the test waiting for wall time.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRecordingFaultKeepsCall: a real relay call recorded through RecordFactory onto a
// disk with 8 KB free. The recording fails at its first checkpoint (ENOSPC): the session
// says RecordingFailed, one EventRecordingFailed is published, the RecordingFailed hook
// (hushd's hush_recording_failures_total) runs once, pausing is refused, and every packet,
// before and after, is forwarded byte for byte both ways. It needs no mount privileges
// (cmd/hushd's TestRecordingDiskFull does the same on a real full tmpfs).
func TestRecordingFaultKeepsCall(t *testing.T) {
	lo, hi := relaytest.Ports(t, 100)
	alloc, err := relay.NewPortAllocator(netip.MustParseAddr("127.0.0.1"), lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	disk := &smallDisk{}
	disk.left.Store(8 << 10)
	clk := &stepClock{t: time.Now()}
	var failures atomic.Int32
	reg := NewRegistry(Config{
		Media:    RelayFactory(alloc, RelayConfig{}),
		Defaults: Policy{StrictSource: true, IdleTimeout: time.Minute},
		Recorder: RecordFactory(t.TempDir(), nil, record.WithFS(disk), record.WithClock(clk),
			record.WithCheckpointInterval(100*time.Millisecond)),
		Hooks: Hooks{RecordingFailed: func() { failures.Add(1) }},
	})
	phone := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	cust, agent := phone(), phone()
	addr := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }
	in, err := reg.Create(Spec{CallID: "fault", AgentID: "agent-7",
		Customer: LegSpec{Remote: addr(cust)}, Agent: LegSpec{Remote: addr(agent)},
		Policy: Policy{StrictSource: true, IdleTimeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = reg.Delete(in.ID, Request{}, "test") })
	if in.Recording.State != RecordingActive {
		t.Fatalf("recording %+v", in.Recording)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _, err := reg.Watch(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	next(t, events) // snapshot

	r := rand.New(rand.NewPCG(3, 4))
	var seq [2]uint16
	packet := func(leg int) []byte {
		b := make([]byte, 12+160)
		b[0], b[1] = 0x80, 0 // RTP version 2, PCMU
		binary.BigEndian.PutUint16(b[2:], seq[leg])
		binary.BigEndian.PutUint32(b[4:], uint32(seq[leg])*160)
		binary.BigEndian.PutUint32(b[8:], 0x5000+uint32(leg))
		for i := 12; i < len(b); i++ {
			b[i] = byte(0x90 + r.IntN(0x60)) // quiet noise: never a DTMF tone
		}
		seq[leg]++
		return b
	}
	buf := make([]byte, 2048)
	relayOne := func(from, to *net.UDPConn, hush netip.AddrPort, pkt []byte) {
		t.Helper()
		if _, err := from.WriteToUDPAddrPort(pkt, hush); err != nil {
			t.Fatal(err)
		}
		_ = to.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := to.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("packet %d not forwarded: %v", seq[0], err)
		}
		if !bytes.Equal(buf[:n], pkt) {
			t.Fatalf("packet %d changed on the way", seq[0])
		}
	}
	failedAt, after := -1, 0
	failEvents := 0
	for k := 0; k < 3000 && after < 25; k++ {
		clk.add(20 * time.Millisecond)
		relayOne(cust, agent, in.Customer.Local, packet(0))
		relayOne(agent, cust, in.Agent.Local, packet(1))
		if failedAt >= 0 {
			after++
			continue
		}
		select {
		case e := <-events:
			if e.Kind == EventRecordingFailed {
				failedAt, failEvents = k, failEvents+1
			}
		default:
		}
	}
	if failedAt < 0 {
		t.Fatal("the recording never failed")
	}
	got, err := reg.Get(in.ID)
	if err != nil || got.Recording.State != RecordingFailed || got.Recording.Failure == "" {
		t.Fatalf("after the failure: %+v %v", got.Recording, err)
	}
	if _, err := reg.Pause(in.ID, PauseSilence, "agent-7", rq("p"), ""); !errors.Is(err, ErrFailedPrecondition) {
		t.Errorf("pause on a failed recording: %v", err)
	}
	if _, err := reg.Delete(in.ID, rq("d"), "test"); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		e, ok := <-events
		if !ok {
			break
		}
		if e.Kind == EventRecordingFailed {
			failEvents++
		}
	}
	if failEvents != 1 || failures.Load() != 1 {
		t.Errorf("%d RecordingFailed events, hook ran %d times; want 1 and 1", failEvents, failures.Load())
	}
	t.Logf("recording failed (disk full) at packet %d; %d packets each way forwarded byte-exact, %d after the failure",
		failedAt, seq[0], after)
}

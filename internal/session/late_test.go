package session

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/relay"
	"github.com/hushmedia/hush/media/relay/relaytest"
)

// TestStartRecordingLater: a session created unrecorded on a hushd that records starts
// recording when asked during the call (ng start recording, record-call in a re-offer):
// its media was given a recording tap that passes nothing on before, and the new
// recording's frames after. Asked again, nothing more starts; on a hushd that records
// nothing, it fails as a precondition.
func TestStartRecordingLater(t *testing.T) {
	n := newNode(t, "a")
	sp := spec("call-1", "")
	sp.Policy.Recording.Off = true
	in, err := n.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	if in.Recording.State != RecordingStopped {
		t.Fatalf("recording %+v, want none", in.Recording)
	}
	m := n.mediaOf(t, 0)
	if m.spec.Record == nil {
		t.Fatal("an unrecorded session's media has no recording tap: no recording could start later")
	}
	frame := &mask.RecordFrame{}
	_ = m.spec.Record.Write(Customer, 1, 160, frame) // before: goes nowhere

	got, err := n.reg.StartRecording(in.ID, "kamailio", Request{}, "ng start recording")
	if err != nil {
		t.Fatal(err)
	}
	if got.Recording.State != RecordingActive || got.Recording.ID != in.ID || got.Policy.Recording.Off {
		t.Fatalf("after start: recording %+v, policy off %v", got.Recording, got.Policy.Recording.Off)
	}
	n.recMu.Lock()
	recs := append([]RecorderMeta(nil), n.recs...)
	n.recMu.Unlock()
	if len(recs) != 1 || recs[0].SessionID != in.ID || recs[0].Segment != 1 {
		t.Fatalf("recorders started: %+v", recs)
	}
	_ = m.spec.Record.Write(Customer, 1, 320, frame)
	s, _ := n.reg.lookup(in.ID)
	s.mu.Lock()
	fr := s.rec.rec.(*fakeRecorder)
	s.mu.Unlock()
	if w := fr.writes.Load(); w != 1 {
		t.Errorf("the recording got %d frames, want the 1 written after it started", w)
	}
	if _, err := n.reg.StartRecording(in.ID, "kamailio", Request{}, "again"); err != nil {
		t.Fatal(err)
	}
	if n.recMu.Lock(); len(n.recs) != 1 {
		t.Errorf("%d recorders after a second start, want 1", len(n.recs))
	}
	n.recMu.Unlock()
	if snap, _ := n.reg.Snapshot(in.ID); snap.Recording.ID != in.ID || snap.Policy.Recording.Off {
		t.Errorf("snapshot %+v: a takeover would not record on", snap.Recording)
	}

	// A hushd that records nothing.
	h := newHarness(t, 8, 10)
	in2, err := h.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.StartRecording(in2.ID, "kamailio", Request{}, ""); !errors.Is(err, ErrFailedPrecondition) {
		t.Errorf("start recording without a recorder: %v, want ErrFailedPrecondition", err)
	}
}

// TestStartRecordingLaterRelay: the same through a real relay and recorder: a call
// created unrecorded, audio flowing, then recording started: the WAV holds the audio sent
// after the start (and never more than the whole call), and the session ends cleanly.
func TestStartRecordingLaterRelay(t *testing.T) {
	lo, hi := relaytest.Ports(t, 10)
	alloc, err := relay.NewPortAllocator(netip.MustParseAddr("127.0.0.1"), lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reg := NewRegistry(Config{
		Media:    RelayFactory(alloc, RelayConfig{}),
		Defaults: Policy{StrictSource: true, IdleTimeout: time.Minute},
		Recorder: RecordFactory(dir, nil),
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
	in, err := reg.Create(Spec{CallID: "later", AgentID: "agent-7",
		Customer: LegSpec{Remote: addr(cust)}, Agent: LegSpec{Remote: addr(agent)},
		Policy: Policy{StrictSource: true, IdleTimeout: time.Minute, CustomerToAgent: MaskPolicy{Mode: MaskOff},
			Recording: RecordingPolicy{Off: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var seq uint16
	buf := make([]byte, 2048)
	send := func(n int) {
		for range n {
			b := make([]byte, 12+160)
			b[0] = 0x80
			binary.BigEndian.PutUint16(b[2:], seq)
			binary.BigEndian.PutUint32(b[4:], uint32(seq)*160)
			binary.BigEndian.PutUint32(b[8:], 0x5000)
			for i := 12; i < len(b); i++ {
				b[i] = byte(0x90 + i%0x40)
			}
			seq++
			if _, err := cust.WriteToUDPAddrPort(b, in.Customer.Local); err != nil {
				t.Fatal(err)
			}
			_ = agent.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := agent.ReadFromUDPAddrPort(buf); err != nil {
				t.Fatalf("packet %d not forwarded: %v", seq, err)
			}
		}
	}
	send(25)
	if _, err := reg.StartRecording(in.ID, "test", Request{}, "start"); err != nil {
		t.Fatal(err)
	}
	send(50)
	if _, err := reg.Delete(in.ID, Request{}, "test"); err != nil {
		t.Fatal(err)
	}
	var wav int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".wav") {
			if fi, err := d.Info(); err == nil {
				wav += fi.Size()
			}
		}
		return nil
	})
	// A packet is 160 samples on two 16-bit channels, 640 bytes: about 50 packets' worth
	// once the recording started (a few more from the recording's look-ahead), far from
	// the 75 of the whole call.
	if wav < 44+45*640 {
		t.Fatalf("recording has %d bytes: not the audio after it started", wav)
	}
	if most := int64(44 + 60*640); wav > most {
		t.Errorf("recording has %d bytes: more than the audio after it started (%d)", wav, most)
	}
	t.Logf("WAV %d bytes for 50 packets recorded of 75 sent", wav)
}

// TestRecordTapSinkIsMedia: the relay hands a recorded packet's frame to the recorder
// with no call into this package: the recording tap's sink is media/record's Recorder
// itself for a session recorded from its start, and a media/relay switch for one whose
// recording may start later (which, once started, passes frames to that same Recorder).
func TestRecordTapSinkIsMedia(t *testing.T) {
	rec, err := RecordFactory(t.TempDir(), nil)(RecorderMeta{SessionID: "s-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if sink := recordTap(rec, nil, 0).Sink; reflect.TypeOf(sink) != reflect.TypeFor[*record.Recorder]() {
		t.Errorf("a recorded session's tap sink is %T, want *record.Recorder", sink)
	}
	if sink := mediaSink(rec); reflect.TypeOf(sink) != reflect.TypeFor[*record.Recorder]() {
		t.Errorf("a late recording's switch would pass frames to %T, want *record.Recorder", sink)
	}
	late := &lateRecorder{}
	late.set(rec)
	sink := recordTap(late, nil, 0).Sink
	if p := reflect.TypeOf(sink).Elem().PkgPath(); !strings.HasPrefix(p, "github.com/hushmedia/hush/media/") {
		t.Errorf("a late recording's tap sink is %T from %s, want a media package's", sink, p)
	}
}

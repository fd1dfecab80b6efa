package relay

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
)

// detect returns the digits media/dtmf's detector finds in pcm.
func detect(pcm []int16) string {
	d := dtmf.NewDetector()
	var out []byte
	for _, e := range d.Process(pcm, nil) {
		if e.Kind == dtmf.DigitStart {
			out = append(out, e.Digit)
		}
	}
	for _, e := range d.Skip(8000, nil) {
		if e.Kind == dtmf.DigitStart {
			out = append(out, e.Digit)
		}
	}
	return string(out)
}

// quietSpeech is low-level noise, as a line sounds between words.
func quietSpeech(n int, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, seed+1))
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(r.IntN(200) - 100)
	}
	return pcm
}

// TestPlayDTMFInband: toward a listener without telephone-event, played keys arrive
// in-band on the party's own packets: every packet arrives with its sequence number,
// timestamp, SSRC, payload type and length, in order, and the listener's audio holds
// exactly the keys played (media/dtmf's detector and multimon-ng), in PCMU and PCMA.
// The recording tap hears the party as it spoke: no key.
func TestPlayDTMFInband(t *testing.T) { forEngines(t, testPlayDTMFInbandOnEngine) }

func testPlayDTMFInbandOnEngine(t *testing.T) {
	for _, pt := range []uint8{0, 8} {
		t.Run(map[uint8]string{0: "PCMU", 8: "PCMA"}[pt], func(t *testing.T) {
			dir := t.TempDir()
			sink := &tapSink{}
			e, c, _, _ := flowEnv(t, WithRecordTap(sink.tap(true)))
			pcm := quietSpeech(60*sFrame, uint64(pt)+1)
			pkts := (&g711Stream{pt: pt, ssrc: 77, seq: 65530, ts: 0xfffff000}).all(pcm)
			var got [][]byte
			for i, p := range pkts {
				if i == 5 {
					for _, tn := range []Tone{
						{Event: 5, Duration: 250 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 8},
						{Event: 11, Duration: 100 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 8},
						{Event: 5, Duration: 100 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 20},
					} {
						if err := c.PlayDTMF(CustomerToAgent, tn); err != nil {
							t.Fatal(err)
						}
					}
				}
				send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
				b, _ := recv(t, e.b.s.RTP)
				got = append(got, b)
			}
			sameHeaders(t, got, pkts)
			out := pcmOf(t, got)
			if d := detect(out); d != "5#5" {
				t.Fatalf("the detector finds %q in what the agent hears, want 5#5", d)
			}
			if d := detect(pcm); d != "" {
				t.Fatalf("the input holds %q", d)
			}
			if d := judge(t, dir, "played", out); d != "5#5" {
				t.Fatalf("multimon-ng finds %q, want 5#5", d)
			}
			// The keys take the packets from the 6th: 250 ms, 100 ms pause, ...; the
			// party's audio is untouched outside them.
			keys := 38 * sFrame // 250+100 ms (to a packet boundary), 100+100, 100+100
			start := 5 * sFrame
			if !slices.Equal(out[:start], pcmOf(t, pkts[:5])) || !slices.Equal(out[start+keys:], pcmOf(t, pkts)[start+keys:]) {
				t.Fatal("audio outside the keys changed")
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if rec := sink.pcm[CustomerToAgent]; !slices.Equal(rec, pcmOf(t, pkts)) {
				t.Fatalf("the recording (%d samples) is not what the customer sent", len(rec))
			}
		})
	}
}

// TestPlayDTMFEvents: toward a listener that takes telephone-event, a key goes as RFC 4733
// events on the party's packets: same sequence numbers and SSRC, the listener's payload
// type, every packet of the event at its first packet's timestamp with the marker on the
// first only, the duration growing by each packet's samples, the end bit on the last and
// its two repeats (§2.5.1.4); then the party's audio through the pause, and the next key.
func TestPlayDTMFEvents(t *testing.T) { forEngines(t, testPlayDTMFEventsOnEngine) }

func testPlayDTMFEventsOnEngine(t *testing.T) {
	e := newEnv(t, lo4, true, false)
	c := e.start(e.explicit())
	pkts := (&g711Stream{pt: 0, ssrc: 78, seq: 100, ts: 8000}).all(quietSpeech(24*sFrame, 3))
	var got [][]byte
	for i, p := range pkts {
		if i == 2 {
			for _, ev := range []uint8{9, 10} {
				if err := c.PlayDTMF(CustomerToAgent, Tone{Event: ev, Duration: 100 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 8, EventPT: 101}); err != nil {
					t.Fatal(err)
				}
			}
		}
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		b, _ := recv(t, e.b.s.RTP)
		got = append(got, b)
	}
	type want struct {
		ev       int // -1: the party's packet, untouched
		marker   bool
		end      bool
		dur      uint16
		startPkt int
	}
	plan := []want{{ev: -1}, {ev: -1}}
	for _, ev := range []int{9, 10} {
		s := len(plan)
		for k, d := range []uint16{160, 320, 480, 640, 800, 800, 800} {
			plan = append(plan, want{ev: ev, marker: k == 0, end: d == 800, dur: d, startPkt: s})
		}
		// The pause runs from the event's end: its first 40 ms carry the end's repeats.
		plan = append(plan, want{ev: -1}, want{ev: -1}, want{ev: -1})
	}
	for len(plan) < len(pkts) {
		plan = append(plan, want{ev: -1})
	}
	var g, in rtp.Header
	for i, w := range plan {
		g.Unmarshal(got[i])
		in.Unmarshal(pkts[i])
		if g.SequenceNumber != in.SequenceNumber || g.SSRC != in.SSRC {
			t.Fatalf("packet %d: seq %d ssrc %x, want %d %x", i, g.SequenceNumber, g.SSRC, in.SequenceNumber, in.SSRC)
		}
		if w.ev < 0 {
			if string(got[i]) != string(pkts[i]) {
				t.Fatalf("packet %d: the party's packet changed", i)
			}
			continue
		}
		var te dtmf.TelephoneEvent
		if err := te.Unmarshal(g.Payload(got[i])); err != nil || len(g.Payload(got[i])) != 4 {
			t.Fatalf("packet %d: payload % x", i, g.Payload(got[i]))
		}
		var first rtp.Header
		first.Unmarshal(pkts[w.startPkt])
		if g.PayloadType != 101 || g.Marker != w.marker || g.Timestamp != first.Timestamp ||
			int(te.Event) != w.ev || te.End != w.end || te.Duration != w.dur || te.Volume != 8 {
			t.Fatalf("packet %d: pt %d marker %v ts %d event %d end %v duration %d volume %d, want %+v (ts %d)", i,
				g.PayloadType, g.Marker, g.Timestamp, te.Event, te.End, te.Duration, te.Volume, w, first.Timestamp)
		}
	}
}

// TestPlayDTMFRefused: a key is never played into a masked, blocked or silenced
// direction, nor before the party's media has started; a key queued before the direction
// became masked is dropped, not played when masking ends; bad tones and a full queue are
// refused.
func TestPlayDTMFRefused(t *testing.T) { forEngines(t, testPlayDTMFRefusedOnEngine) }

func testPlayDTMFRefusedOnEngine(t *testing.T) {
	e, c, _, _ := flowEnv(t)
	five := Tone{Event: 5, Duration: 100 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 8}
	if err := c.PlayDTMF(CustomerToAgent, five); !errors.Is(err, ErrNoMedia) {
		t.Fatalf("before media: %v", err)
	}
	st := &g711Stream{pt: 0, ssrc: 79, seq: 1, ts: 160}
	quiet := quietSpeech(200*sFrame, 4)
	next := func() []byte { p := st.next(quiet[:sFrame]); quiet = quiet[sFrame:]; return p }
	p := next()
	send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
	expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
	for _, tc := range []struct {
		tone Tone
		err  error
	}{
		{Tone{Event: 16, Duration: time.Second}, ErrInvalidTone},
		{Tone{Event: 1, Duration: 10 * time.Millisecond}, ErrInvalidTone},
		{Tone{Event: 1, Duration: 9 * time.Second}, ErrInvalidTone},
		{Tone{Event: 1, Duration: time.Second, Pause: 6 * time.Second}, ErrInvalidTone},
		{Tone{Event: 1, Duration: time.Second, Volume: 64}, ErrInvalidTone},
		{Tone{Event: 1, Duration: time.Second, EventPT: 128}, ErrInvalidTone},
	} {
		if err := c.PlayDTMF(CustomerToAgent, tc.tone); !errors.Is(err, tc.err) {
			t.Errorf("%+v: %v, want %v", tc.tone, err, tc.err)
		}
	}
	for f, want := range map[Flow]error{FlowBlock: ErrBlocked, FlowSilence: ErrBlocked} {
		if err := c.SetFlow(CustomerToAgent, f); err != nil {
			t.Fatal(err)
		}
		if err := c.PlayDTMF(CustomerToAgent, five); !errors.Is(err, want) {
			t.Fatalf("%v: %v", f, err)
		}
	}
	if err := c.SetFlow(CustomerToAgent, FlowForward); err != nil {
		t.Fatal(err)
	}
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone}); err != nil {
		t.Fatal(err)
	}
	if err := c.PlayDTMF(CustomerToAgent, five); !errors.Is(err, ErrMasked) {
		t.Fatalf("masked: %v", err)
	}
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{}); err != nil {
		t.Fatal(err)
	}
	for range MaxQueuedTones {
		if err := c.PlayDTMF(CustomerToAgent, five); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PlayDTMF(CustomerToAgent, five); !errors.Is(err, ErrToneQueueFull) {
		t.Fatalf("a 17th key: %v", err)
	}
	// Masking now drops every key queued: none is played while masked, nor after.
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeSilence}); err != nil {
		t.Fatal(err)
	}
	var sent, heard [][]byte
	for range 20 {
		p := next()
		sent = append(sent, p)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		b, _ := recv(t, e.b.s.RTP)
		heard = append(heard, b)
	}
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{}); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		p := next()
		sent = append(sent, p)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		b, _ := recv(t, e.b.s.RTP)
		heard = append(heard, b)
	}
	sameHeaders(t, heard, sent)
	if d := detect(pcmOf(t, heard)); d != "" {
		t.Fatalf("keys queued before masking were played: %q", d)
	}
}

// TestPlayDTMFAllocs: starting and playing a key allocates nothing on the packet path
// (nor queueing it), in-band and as RFC 4733 events.
func TestPlayDTMFAllocs(t *testing.T) { forEngines(t, testPlayDTMFAllocsOnEngine) }

func testPlayDTMFAllocsOnEngine(t *testing.T) {
	for _, te := range []uint8{0, 101} {
		c := unstartedCall(t, CallConfig{Customer: LegConfig{Remote: ap("10.0.0.1:5000")},
			Agent: LegConfig{Remote: ap("10.9.9.9:6000")}})
		p := &Packet{Buf: rtpPacket(t, 0, 1, 160), Src: ap("10.0.0.1:5000")}
		if _, _, r := c.process(Customer, kindRTP, p); r != DropNone {
			t.Fatal(r)
		}
		orig := append(make([]byte, 0, MaxPacketSize+1), p.Buf...)
		buf := make([]byte, len(orig), MaxPacketSize+1)
		tn := Tone{Event: 3, Duration: 100 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 8, EventPT: te}
		allocs := testing.AllocsPerRun(1000, func() {
			if err := c.PlayDTMF(CustomerToAgent, tn); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				p.Buf = buf[:copy(buf[:len(orig)], orig)]
				if r := c.egress(CustomerToAgent, p); r != DropNone {
					t.Fatal(r)
				}
			}
			c.out[CustomerToAgent].pl.cancel(&c.out[CustomerToAgent].tones)
		})
		if allocs != 0 {
			t.Errorf("telephone-event %d: %v allocations", te, allocs)
		}
	}
}

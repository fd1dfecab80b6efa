package relay

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/relay/relaytest/pcap"
	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/udpio"
)

// pump sends pkts from tx to the call and collects what rx receives,
// keeping at most window forwarded packets in flight so the delay line is
// not overrun; counts(p) says whether p is expected out.
func pump(t testing.TB, tx, rx *net.UDPConn, to netip.AddrPort, pkts [][]byte, counts func([]byte) bool, window int) [][]byte {
	t.Helper()
	var got [][]byte
	want := 0
	for _, p := range pkts {
		send(t, tx, to, p)
		if counts(p) {
			want++
		}
		for want-len(got) >= window {
			b, _ := recv(t, rx)
			got = append(got, b)
		}
	}
	for len(got) < want {
		b, _ := recv(t, rx)
		got = append(got, b)
	}
	return got
}

func all([]byte) bool { return true }

func sameHeaders(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d packets, sent %d", len(got), len(want))
	}
	var g, w rtp.Header
	for i := range got {
		g.Unmarshal(got[i])
		w.Unmarshal(want[i])
		if g.SequenceNumber != w.SequenceNumber || g.Timestamp != w.Timestamp || g.SSRC != w.SSRC ||
			g.PayloadType != w.PayloadType || len(got[i]) != len(want[i]) {
			t.Fatalf("packet %d: got seq %d ts %d ssrc %x len %d, want seq %d ts %d ssrc %x len %d", i,
				g.SequenceNumber, g.Timestamp, g.SSRC, len(got[i]), w.SequenceNumber, w.Timestamp, w.SSRC, len(want[i]))
		}
	}
}

// TestMaskedCallJudge sends speech with DTMF tones of 40, 50, 100 and 500
// ms at -10 and -25 dBm0 per tone, onsets at varied positions inside a
// packet, through a Call whose customer->agent direction is masked, on
// real loopback sockets. multimon-ng finds every digit in the input and
// none in what the agent receives; the agent gets the same packets (seq,
// timestamp, SSRC, count); speech outside the tones changes only where the
// notch removed the DTMF bands (every changed sample counted as notched); no
// mask is late.
func TestMaskedCallJudge(t *testing.T) { forEngines(t, testMaskedCallJudgeOnEngine) }

func testMaskedCallJudgeOnEngine(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(31, 32))
	late, masked, notched := newEventCounter(), newEventCounter(), newEventCounter()
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit(), WithMetrics(CustomerToAgent, DirectionMetrics{LateMasks: late, MaskedSamples: masked, NotchedSamples: notched}))
	modes := []mask.Mode{mask.ModeTone, mask.ModeSilence, mask.ModeComfortNoise}
	st := &g711Stream{pt: 0, ssrc: 0xc0ffee, seq: 65000, ts: 4e9}
	i := 0
	for _, dur := range []int{40, 50, 100, 500} {
		for _, lv := range []float64{-10, -25} {
			mode := modes[i%len(modes)]
			i++
			if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mode}); err != nil {
				t.Fatal(err)
			}
			const gap = 200 * sMs
			var tones []tone
			at := gap
			for k := range 16 {
				b := tone{key: dtmfKeys[k], at: at + (k*47+dur)%sFrame, dur: dur * sMs, dbm0: lv}
				tones = append(tones, b)
				at = b.at + b.dur + gap
			}
			n := (at + gap) / sFrame * sFrame
			sp := speechSignal(t, n)
			sig := make([]float64, n)
			for j := range sig {
				clear := true
				for _, b := range tones {
					clear = clear && (j < b.at-20*sMs || j >= b.at+b.dur+20*sMs)
				}
				if clear {
					sig[j] = sp[j]
				}
			}
			for _, b := range tones {
				b.add(sig, r)
			}
			pkts := st.all(toPCM(sig))
			notched0 := notched.sum.Load()
			got := pump(t, e.a.s.RTP, e.b.s.RTP, c.LocalRTP(Customer), pkts, all, 24)
			sameHeaders(t, got, pkts)
			in, out := pcmOf(t, pkts), pcmOf(t, got)
			name := fmt.Sprintf("%dms_%gdBm0", dur, lv)
			if d := judge(t, dir, name+"_in", in); d != dtmfKeys {
				t.Errorf("%s: multimon-ng finds %q in the input, want all 16", name, d)
			}
			if d := judge(t, dir, name+"_out", out); d != "" {
				t.Errorf("%s %v: multimon-ng finds %d digits in what the agent hears", name, mode, len(d))
			}
			changed := 0
			for j := range in {
				near := false
				for _, b := range tones {
					near = near || (j >= b.at-sFrame && j < b.at+b.dur+40*sMs)
				}
				if !near && in[j] != out[j] {
					changed++
				}
			}
			if n := notched.sum.Load() - notched0; int64(changed) > n {
				t.Errorf("%s: %d samples outside the tones changed, %d notched", name, changed, n)
			}
			t.Logf("%-14s %-13v input 16/16 digits, agent hears 0; %d packets; %d samples outside the tones notched", name, mode, len(pkts), changed)
		}
	}
	if n := late.sum.Load(); n != 0 {
		t.Errorf("%d late masks", n)
	}
	if masked.sum.Load() == 0 {
		t.Error("MaskedSamples not counted")
	}
	// The call keeps its own share of the count, for its end-of-call summary.
	if got, want := c.Stats(Customer).MaskedSamples, uint64(masked.sum.Load()); got != want {
		t.Errorf("Stats(Customer).MaskedSamples = %d, the metric counted %d", got, want)
	}
}

// eventPackets returns the RFC 4733 packets of a sip-tester capture.
func eventPackets(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if ciRequired() {
			t.Fatalf("%s: %v (Debian package sip-tester)", path, err)
		}
		t.Skipf("%s missing: install Debian package sip-tester", path)
	}
	defer f.Close()
	rd, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var h rtp.Header
	for {
		rec, err := rd.Next()
		if err != nil {
			break
		}
		d, err := pcap.UDP(rd.LinkType, rec.Data)
		if err != nil {
			continue
		}
		if _, err := h.Unmarshal(d.Payload); err == nil && h.PayloadType == 101 {
			out = append(out, slices.Clone(d.Payload))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no telephone-events in %s", path)
	}
	return out
}

// TestMaskedRFC4733Pcaps replays sip-tester's RFC 4733 captures (digits
// 0-9, dtmf_2833_N.pcap) inside a speech stream, with the in-band tone in
// the audio too for every other digit (some phones send both), through a
// masked direction with secure capture on. The agent never receives a
// telephone-event; every audio packet arrives with what overlaps an event
// masked; each digit is captured exactly once.
func TestMaskedRFC4733Pcaps(t *testing.T) { forEngines(t, testMaskedRFC4733PcapsOnEngine) }

func testMaskedRFC4733PcapsOnEngine(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(41, 42))
	const tePT, ssrc = 101, 0xabcdef
	digits := make(chan DigitEvent, 64)
	e := newEnv(t, lo4, false, false)
	cfg := e.explicit()
	cfg.Customer.TelephoneEventPT = tePT
	c := e.start(cfg, WithDigits(func(d DigitEvent) {
		select {
		case digits <- d:
		default:
		}
	}))
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone, Capture: true}); err != nil {
		t.Fatal(err)
	}
	// Lay out: 300 ms of speech, then each digit's event span, then speech.
	type press struct {
		evs      [][]byte
		at, span int // packet index and length in samples
	}
	var presses []press
	pos := 15
	for d := range 10 {
		evs := eventPackets(t, fmt.Sprintf("/usr/share/sip-tester/dtmf_2833_%d.pcap", d))
		var te dtmf.TelephoneEvent
		var h rtp.Header
		span := 0
		for _, p := range evs {
			h.Unmarshal(p)
			te.Unmarshal(h.Payload(p))
			span = max(span, int(te.Duration))
		}
		presses = append(presses, press{evs: evs, at: pos, span: span})
		pos += (span+sFrame-1)/sFrame + 20
	}
	n := (pos + 15) * sFrame
	sp := speechSignal(t, n)
	sig := make([]float64, n)
	for j := range sig {
		clear := true
		for _, p := range presses {
			clear = clear && (j < p.at*sFrame-20*sMs || j >= p.at*sFrame+p.span+20*sMs)
		}
		if clear {
			sig[j] = sp[j]
		}
	}
	want := ""
	for d, p := range presses {
		if d%2 == 0 {
			tone{key: "0123456789"[d], at: p.at * sFrame, dur: p.span, dbm0: -10}.add(sig, r)
			want += string("0123456789"[d])
		}
	}
	st := &g711Stream{pt: 0, ssrc: ssrc, seq: 100, ts: 1000}
	audio := st.all(toPCM(sig))
	// Interleave: event packet k of a press goes after audio packet at+k,
	// rebased onto the audio's timeline and SSRC (RFC 4733 §2.1).
	var wire [][]byte
	for i, a := range audio {
		wire = append(wire, a)
		for _, p := range presses {
			k := i - p.at
			if k < 0 || k >= len(p.evs) {
				continue
			}
			ev := slices.Clone(p.evs[k])
			var h, h0 rtp.Header
			h.Unmarshal(ev)
			h0.Unmarshal(p.evs[0])
			h.Timestamp = 1000 + uint32(p.at*sFrame) + (h.Timestamp - h0.Timestamp)
			h.SSRC = ssrc
			h.MarshalTo(ev)
			wire = append(wire, ev)
		}
	}
	isAudio := func(b []byte) bool { return b[1]&0x7f != tePT }
	got := pump(t, e.a.s.RTP, e.b.s.RTP, c.LocalRTP(Customer), wire, isAudio, 24)
	sameHeaders(t, got, audio)
	in, out := pcmOf(t, audio), pcmOf(t, got)
	if d := judge(t, dir, "rfc4733_in", in); d != want {
		t.Errorf("multimon-ng finds %q in the input audio, want %q", d, want)
	}
	if d := judge(t, dir, "rfc4733_out", out); d != "" {
		t.Errorf("multimon-ng finds %d digits in what the agent hears", len(d))
	}
	for _, p := range presses {
		a, b := p.at*sFrame, p.at*sFrame+p.span
		if slices.Equal(in[a:b], out[a:b]) {
			t.Fatalf("audio overlapping the event at packet %d not masked", p.at)
		}
	}
	var captured strings.Builder
	for range 10 {
		select {
		case d := <-digits:
			hidden := DigitEvent{Dir: d.Dir, Source: d.Source, RTPTimestamp: d.RTPTimestamp}
			if d.Dir != CustomerToAgent || d.Source == 0 || d.String() != hidden.String() {
				t.Fatalf("digit event %v", d)
			}
			captured.WriteByte(d.Digit)
		case <-time.After(recvTimeout):
			t.Fatalf("captured %d of 10 digits", captured.Len())
		}
	}
	select {
	case <-digits:
		t.Fatal("a key press was captured twice")
	default:
	}
	if captured.String() != "0123456789" {
		t.Fatal("captured digits in the wrong order or wrong")
	}
	s := c.Stats(Customer)
	if s.Drops[DropMaskedEvent] != uint64(len(wire)-len(audio)) {
		t.Fatalf("%d events withheld, want %d", s.Drops[DropMaskedEvent], len(wire)-len(audio))
	}
	t.Logf("%d telephone-events withheld, %d audio packets forwarded, 10/10 digits captured once, in-band judge %d/%d in, 0 out",
		len(wire)-len(audio), len(got), len(want), len(want))
}

// TestMaskPolicySwitch: unmasked, masked, unmasked again: every packet
// arrives once and in order; the unmasked stretches are forwarded at once
// (the test waits for each before sending the next) and switching back
// flushes the queue before the next packet.
func TestMaskPolicySwitch(t *testing.T) { forEngines(t, testMaskPolicySwitchOnEngine) }

func testMaskPolicySwitchOnEngine(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit())
	st := &g711Stream{pt: 8, ssrc: 7}
	pkts := st.all(make([]int16, 60*sFrame))
	for i, p := range pkts {
		switch i {
		case 20:
			if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeSilence}); err != nil {
				t.Fatal(err)
			}
		case 40:
			if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{}); err != nil {
				t.Fatal(err)
			}
			if c.MaskPolicy(CustomerToAgent) != (mask.Policy{}) {
				t.Fatal("policy not cleared")
			}
		}
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		if i < 20 {
			expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
		}
		if i == 40 {
			for j := 20; j <= 40; j++ {
				expect(t, e.b.s.RTP, pkts[j], c.LocalRTP(Agent))
			}
		}
		if i > 40 {
			expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
		}
	}
	if c.MaskPolicy(AgentToCustomer) != (mask.Policy{}) || c.MaskPolicy(9) != (mask.Policy{}) {
		t.Fatal("MaskPolicy of an unmasked or invalid direction")
	}
}

// TestMaskPolicyErrors: bad directions and policies are rejected and
// change nothing.
func TestMaskPolicyErrors(t *testing.T) { forEngines(t, testMaskPolicyErrorsOnEngine) }

func testMaskPolicyErrorsOnEngine(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit())
	if err := c.SetMaskPolicy(5, mask.Policy{Mode: mask.ModeTone}); err != ErrInvalidLeg {
		t.Fatalf("bad direction: %v", err)
	}
	for _, p := range []mask.Policy{{Mode: 9}, {Mode: mask.ModeTone, ToneHz: 770}, {Mode: mask.ModeTone, LookAhead: time.Hour}} {
		if err := c.SetMaskPolicy(CustomerToAgent, p); err == nil {
			t.Fatalf("%+v accepted", p)
		}
	}
	if c.MaskPolicy(CustomerToAgent) != (mask.Policy{}) {
		t.Fatal("a rejected policy was stored")
	}
}

// TestMaskedFailClosed: in a masked direction an undecodable payload type
// is dropped (DropUndecodable), while the unmasked direction forwards it.
func TestMaskedFailClosed(t *testing.T) { forEngines(t, testMaskedFailClosedOnEngine) }

func testMaskedFailClosedOnEngine(t *testing.T) {
	m, ecs := dropCounters()
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit(), WithMetrics(CustomerToAgent, m))
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone}); err != nil {
		t.Fatal(err)
	}
	g729 := rtpPacket(t, 18, 1, 20)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), g729)
	ecs[DropUndecodable].wait(t, "undecodable drop")
	send(t, e.b.s.RTP, c.LocalRTP(Agent), g729)
	expect(t, e.a.s.RTP, g729, c.LocalRTP(Customer))
	// PCMU still goes through the masked direction.
	p := rtpPacket(t, 0, 2, 160)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
	expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
}

// TestMaskedDelayRealTime measures, on real sockets and the real clock,
// the delay a packet gains through the masked direction (minus L) and
// through the unmasked one, and the allocations of the masked engine path.
// Packets go every 5 ms (faster than real time: the look-ahead guard is met
// sooner, so the release instant is arrival + L).
func TestMaskedDelayRealTime(t *testing.T) { forEngines(t, testMaskedDelayRealTimeOnEngine) }

func testMaskedDelayRealTimeOnEngine(t *testing.T) {
	const n, every = 400, 5 * time.Millisecond
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit())
	la := 60 * time.Millisecond
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone, LookAhead: la}); err != nil {
		t.Fatal(err)
	}
	measure := func(tx, rx *net.UDPConn, to netip.AddrPort) (delays []time.Duration, allocs float64) {
		st := &g711Stream{pt: 0, ssrc: 99}
		pkts := st.all(make([]int16, n*sFrame))
		sent := make([]time.Time, n)
		recvd := make([]time.Time, n)
		done := make(chan error, 1)
		rx.SetReadDeadline(time.Now().Add(time.Minute))
		go func() {
			buf := make([]byte, 2048)
			for i := range n {
				if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
					done <- err
					return
				}
				recvd[i] = time.Now()
			}
			done <- nil
		}()
		tick := time.NewTicker(every)
		defer tick.Stop()
		var ms0, ms1 runtime.MemStats
		for i, p := range pkts {
			if i == 50 {
				runtime.ReadMemStats(&ms0)
			}
			<-tick.C
			sent[i] = time.Now()
			send(t, tx, to, p)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&ms1)
		for i := range n {
			delays = append(delays, recvd[i].Sub(sent[i]))
		}
		return delays, float64(ms1.Mallocs-ms0.Mallocs) / float64(n-50)
	}
	q := func(d []time.Duration, p float64) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	md, mallocs := measure(e.a.s.RTP, e.b.s.RTP, c.LocalRTP(Customer))
	md = md[:n-3] // the last packets wait StallGrace: the stream ends
	for i := range md {
		md[i] -= la
	}
	ud, _ := measure(e.b.s.RTP, e.a.s.RTP, c.LocalRTP(Agent))
	t.Logf("masked (L=%v): delay-L min %v p50 %v p99 %v; unmasked: p50 %v p99 %v; process-wide allocations per masked packet %.2f",
		la, slices.Min(md), q(md, 0.5), q(md, 0.99), q(ud, 0.5), q(ud, 0.99), mallocs)
	if slices.Min(md) < -releaseSlack-time.Millisecond {
		t.Errorf("a packet left %v before its look-ahead", -slices.Min(md))
	}
	if p50 := q(md, 0.5); p50 > 5*time.Millisecond || p50 < -time.Millisecond {
		t.Errorf("median added delay %v beyond L", p50)
	}
}

// maskedFixture is an unstarted call whose customer->agent direction is
// masked, with a delay line driven directly (no receive loop) and the agent
// remote on loopback so releases are real sends.
func maskedFixture(t testing.TB) (*Call, *delayLine, *Packet, func()) {
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("127.0.0.1:5000")}, Agent: LegConfig{Remote: ap("127.0.0.1:9")}})
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone, Capture: true}); err != nil {
		t.Fatal(err)
	}
	dl := newDelayLine(c, Customer, udpio.Write, releaseSlack)
	st := &g711Stream{pt: 0, ssrc: 5}
	sig := make([]float64, 50*sFrame)
	tone{key: '5', at: 10 * sFrame, dur: 20 * sFrame, dbm0: -10}.add(sig, rand.New(rand.NewPCG(1, 1)))
	pkts := st.all(toPCM(sig))
	p := &Packet{Src: ap("127.0.0.1:5000")}
	i := 0
	step := func() {
		// Loop the 1 s signal with advancing sequence numbers and timestamps.
		b := pkts[i%len(pkts)]
		var h rtp.Header
		h.Unmarshal(b)
		h.SequenceNumber = uint16(i)
		h.Timestamp = uint32(i * sFrame)
		h.MarshalTo(b)
		p.Buf = b
		if _, _, r := c.process(Customer, kindRTP, p); r != DropNone {
			t.Fatal(r)
		}
		dl.handle(p)
		// Release everything analysed far enough, as if L had passed.
		for {
			pkt, ok := dl.mk.Pop(dl.now() + time.Hour)
			if !ok || dl.mk.Len() < 3 {
				if ok {
					c.sendRTP(udpio.Write, Customer, pkt)
				}
				break
			}
			c.sendRTP(udpio.Write, Customer, pkt)
		}
		i++
	}
	return c, dl, p, step
}

// TestMaskedPathAllocs: the masked engine path (process, delay line push,
// masking, release, send) allocates nothing per packet once running. (A
// release by read-deadline timeout costs one *net.OpError, net's wrapping
// of the timeout; TestMaskedDelayRealTime reports how often that happens.)
func TestMaskedPathAllocs(t *testing.T) { forEngines(t, testMaskedPathAllocsOnEngine) }

func testMaskedPathAllocsOnEngine(t *testing.T) {
	_, _, _, step := maskedFixture(t)
	for range 200 {
		step()
	}
	if a := testing.AllocsPerRun(500, step); a != 0 {
		t.Fatalf("%v allocations per masked packet", a)
	}
}

// BenchmarkMaskedEnginePath: one packet through process, the delay line
// (decode, detect, queue, mask, encode) and the send system call.
func BenchmarkMaskedEnginePath(b *testing.B) {
	_, _, _, step := maskedFixture(b)
	for range 200 {
		step()
	}
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
}

// TestDelayLineLateness: the timer engines (late 0) are asked to release a
// packet exactly when the masker says it is due; the portable engine's
// delay line (late releaseSlack) asks for its timer that much later, so an
// arrival in the window can carry the release instead. A packet the
// detector has not decided about yet is asked for at its due time until
// that has passed, then at the stall grace's end.
func TestDelayLineLateness(t *testing.T) { forEngines(t, testDelayLineLatenessOnEngine) }

func testDelayLineLatenessOnEngine(t *testing.T) {
	for _, late := range []time.Duration{0, releaseSlack} {
		c, _, p, step := maskedFixture(t)
		step()
		dl := newDelayLine(c, Customer, udpio.Write, late)
		if _, ok := dl.due(0); ok {
			t.Fatalf("late %v: due with nothing queued", late)
		}
		if !dl.handle(p) {
			t.Fatalf("late %v: masked packet not taken by the delay line", late)
		}
		due, decided, ok := dl.mk.FrontDue()
		if !ok || decided {
			t.Fatalf("late %v: front due %v decided %v ok %v: want one undecided packet", late, due, decided, ok)
		}
		if at, ok := dl.due(due - 1); !ok || at != due+late {
			t.Fatalf("late %v: due before the due time = %v (%v), want %v", late, at, ok, due+late)
		}
		next, _ := dl.mk.NextDue()
		if at, ok := dl.due(due); !ok || at != next+late || next != due+mask.StallGrace {
			t.Fatalf("late %v: due at the due time = %v (%v), masker next due %v: want due+grace+late", late, at, ok, next)
		}
	}
}

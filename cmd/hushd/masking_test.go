package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/relay/relaytest/pcap"
	"github.com/hushmedia/hush/media/rtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// End-to-end masking through hushd: sessions made over gRPC, phones on loopback UDP sending
// at real 20 ms pacing, and multimon-ng (an independent decoder) as the judge of what the
// agent hears.

// call is one session of the masking tests: its phones, what each sends, what each got.
type maskCall struct {
	name        string
	s           *hushv1.Session
	cust, agent *endpoint
	bursts      []keyBurst // in-band key presses in the customer's audio
	n           int        // samples on the customer's timeline
	fromCust    *phoneStream
	fromAgent   *phoneStream // nil: the agent sends nothing

	custSent, agentSent []time.Time
	atAgent, atCust     []rxPacket
	errs                []error
}

// play sends every call's streams at real-time pacing, all calls at once, and collects
// what each phone receives until the last packet sent toward it arrives.
func playCalls(calls []*maskCall) {
	longest := 0
	for _, c := range calls {
		longest = max(longest, len(c.fromCust.ticks))
	}
	deadline := time.Now().Add(time.Duration(longest)*audioPtime + 3*wait)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	fail := func(c *maskCall, what string, err error) {
		if err != nil {
			mu.Lock()
			c.errs = append(c.errs, fmt.Errorf("%s: %w", what, err))
			mu.Unlock()
		}
	}
	lastOf := func(s *phoneStream) func([]byte) bool {
		var h rtp.Header
		h.Unmarshal(s.audio[len(s.audio)-1])
		return rtpIs(s.ssrc, h.SequenceNumber)
	}
	for _, c := range calls {
		wg.Add(2)
		go func() {
			defer wg.Done()
			var err error
			c.custSent, err = paceSend(ctx, c.cust.conn, c.s.Customer.LocalAddr, c.fromCust.ticks)
			fail(c, "customer send", err)
		}()
		go func() {
			defer wg.Done()
			var err error
			c.atAgent, err = receiveUntil(c.agent.conn, deadline, lastOf(c.fromCust))
			fail(c, "agent receive", err)
		}()
		if c.fromAgent == nil {
			continue
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			var err error
			c.agentSent, err = paceSend(ctx, c.agent.conn, c.s.Agent.LocalAddr, c.fromAgent.ticks)
			fail(c, "agent send", err)
		}()
		go func() {
			defer wg.Done()
			var err error
			c.atCust, err = receiveUntil(c.cust.conn, deadline, lastOf(c.fromAgent))
			fail(c, "customer receive", err)
		}()
	}
	wg.Wait()
}

// onTimeline places each packet's payload octets at its samples' positions on the
// sender's timeline (by RTP timestamp; -1 where nothing came), for byte comparison.
func octetsByTimestamp(t *testing.T, pkts [][]byte, ts0 uint32, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	for _, p := range pkts {
		h := rtpHeaderOf(t, p)
		at := int(int32(h.Timestamp - ts0))
		for i, v := range h.Payload(p) {
			if at+i >= 0 && at+i < n {
				out[at+i] = int(v)
			}
		}
	}
	return out
}

// sameStream checks the receiver got the sender's audio packets, same count and order,
// with the same sequence numbers, timestamps, SSRC, payload type and length.
// drops names what hushd dropped and why, for the failure message.
func sameRTPStream(t *testing.T, name string, got []rxPacket, sent [][]byte, drops func() string) bool {
	t.Helper()
	if len(got) != len(sent) {
		t.Errorf("%s: %d packets came out, %d went in; hushd's drops: %s", name, len(got), len(sent), drops())
		return false
	}
	for i := range got {
		g, w := rtpHeaderOf(t, got[i].pkt), rtpHeaderOf(t, sent[i])
		if g.SequenceNumber != w.SequenceNumber || g.Timestamp != w.Timestamp || g.SSRC != w.SSRC ||
			g.PayloadType != w.PayloadType || len(got[i].pkt) != len(sent[i]) {
			t.Errorf("%s: packet %d: got seq %d ts %d ssrc %x pt %d len %d, sent seq %d ts %d ssrc %x pt %d len %d",
				name, i, g.SequenceNumber, g.Timestamp, g.SSRC, g.PayloadType, len(got[i].pkt),
				w.SequenceNumber, w.Timestamp, w.SSRC, w.PayloadType, len(sent[i]))
			return false
		}
	}
	return true
}

// TestMaskingMatrix: four sessions at once on one hushd, customer->agent masked (tone and
// silence, PCMU and PCMA, set by CreateSession's policy). Each customer sends speech (the
// Asterisk prompts) with all 16 keys in-band: tones of 40, 50, 100 and 500 ms at -10 and
// -25 dBm0 per tone, onsets at varied positions inside a packet, every key under a
// different condition in each session. multimon-ng finds every key in the input and none
// in what the agent receives; the agent gets every packet with its header; audio outside
// the tones changes only where the notch took its DTMF bands out (hush_notched_seconds_total
// counts every such sample); the masked direction adds the look-ahead L and the
// agent->customer direction (unmasked, speech) adds nothing.
func TestMaskingMatrix(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	d := startDaemon(t)
	dir := t.TempDir()
	conds := []struct {
		name  string
		pt    uint8
		codec string
		mode  hushv1.MaskMode
	}{
		{"PCMU/tone", audioPCMU, "PCMU", hushv1.MaskMode_MASK_MODE_TONE},
		{"PCMU/silence", audioPCMU, "PCMU", hushv1.MaskMode_MASK_MODE_SILENCE},
		{"PCMA/tone", audioPCMA, "PCMA", hushv1.MaskMode_MASK_MODE_TONE},
		{"PCMA/silence", audioPCMA, "PCMA", hushv1.MaskMode_MASK_MODE_SILENCE},
	}
	durs := [4]int{40, 50, 100, 500}
	levels := [2]float64{-10, -25}
	const gap = 200 * audioPerMs
	var calls []*maskCall
	for j, cd := range conds {
		r := rand.New(rand.NewPCG(uint64(j)+1, 77))
		c := &maskCall{name: cd.name, cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0")}
		at := gap
		for k := range 16 {
			// Each session has all 16 keys and all 8 (duration, level) conditions twice,
			// a key under a different condition in each session.
			b := keyBurst{key: allKeys[(k+5*j)%16], at: at + (k*47+j*29+11)%audioFrame,
				dur: durs[(k+j)%4] * audioPerMs, dbm0: levels[(k/4+j)%2]}
			c.bursts = append(c.bursts, b)
			at = b.at + b.dur + gap
		}
		c.n = (at + gap) / audioFrame * audioFrame
		ssrc := 0x5eed0000 + uint32(j)
		// Timestamps and sequence numbers wrap early in the call.
		c.fromCust = packetizeG711(cd.pt, ssrc, uint16(65500+j), 0xffffe000, speechWithBursts(promptSpeech(t, c.n, j*5*audioRate), c.bursts, r))
		c.fromAgent = packetizeG711(cd.pt, ^ssrc, uint16(j*1000), uint32(j)<<20, speechWithBursts(promptSpeech(t, c.n, (j*5+60)*audioRate), nil, r))
		codecs := map[uint32]string{uint32(cd.pt): cd.codec}
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
			CallId: "mask-" + cd.name, RequestId: "create-" + cd.name, AgentId: "agent-1",
			Customer: &hushv1.Leg{RemoteAddr: c.cust.addr().String(), Codecs: codecs},
			Agent:    &hushv1.Leg{RemoteAddr: c.agent.addr().String(), Codecs: codecs},
			Policy:   &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: cd.mode}},
		})
		if err != nil {
			t.Fatal(err)
		}
		c.s = s
		calls = append(calls, c)
	}
	la := calls[0].s.GetPolicy().GetCustomerToAgent().GetLookAhead().AsDuration()
	if la <= 0 {
		t.Fatalf("the effective policy has no look-ahead: %v", calls[0].s.GetPolicy())
	}

	playCalls(calls)

	changedAll := 0
	for _, c := range calls {
		for _, err := range c.errs {
			t.Errorf("%s: %v", c.name, err)
		}
		if len(c.errs) > 0 {
			continue
		}
		sameRTPStream(t, c.name+" customer->agent", c.atAgent, c.fromCust.audio, d.drops)
		sameRTPStream(t, c.name+" agent->customer", c.atCust, c.fromAgent.audio, d.drops)
		for i, a := range c.atCust {
			if string(a.pkt) != string(c.fromAgent.audio[min(i, len(c.fromAgent.audio)-1)]) {
				t.Errorf("%s: agent->customer packet %d not forwarded byte-exact", c.name, i)
				break
			}
		}
		in := decodeByTimestamp(c.fromCust.audio, c.fromCust.ts0, c.n)
		out := decodeByTimestamp(datagrams(c.atAgent), c.fromCust.ts0, c.n)
		want := ""
		for _, b := range c.bursts {
			want += string(b.key)
		}
		name := fmt.Sprintf("call%d", slices.Index(calls, c))
		if got := multimonDigits(t, dir, name+"_in", in); got != want {
			t.Errorf("%s: multimon-ng finds %q in the input, want %q", c.name, got, want)
		}
		heard := multimonDigits(t, dir, name+"_agent", out)
		if heard != "" {
			t.Errorf("%s: multimon-ng finds %d digits in what the agent received", c.name, len(heard))
		}

		// Byte comparison on the timeline: outside the guard around each tone nothing
		// changes but where the notch took the DTMF bands out (accounted below); report how
		// far masking reaches beyond a tone and how much of it it covers.
		// (Speech is kept 20 ms clear of tones, so silence masking over silence shows as 0.)
		inB := octetsByTimestamp(t, c.fromCust.audio, c.fromCust.ts0, c.n)
		outB := octetsByTimestamp(t, datagrams(c.atAgent), c.fromCust.ts0, c.n)
		changed, lead, tail, cover := 0, 0, 0, 1.0
		for j := range inB {
			guarded := false
			for _, b := range c.bursts {
				guarded = guarded || b.near(j)
			}
			if !guarded && inB[j] != outB[j] {
				changed++
			}
		}
		for _, b := range c.bursts {
			for j := b.at - audioFrame; j < b.at; j++ {
				if inB[j] != outB[j] {
					lead = max(lead, b.at-j)
					break
				}
			}
			for j := b.at + b.dur + 40*audioPerMs - 1; j >= b.at+b.dur; j-- {
				if inB[j] != outB[j] {
					tail = max(tail, j+1-b.at-b.dur)
					break
				}
			}
			hit := 0
			for j := b.at; j < b.at+b.dur; j++ {
				if inB[j] != outB[j] {
					hit++
				}
			}
			cover = math.Min(cover, float64(hit)/float64(b.dur))
		}
		changedAll += changed
		if cover < 0.95 {
			t.Errorf("%s: a tone was only %.0f%% replaced", c.name, 100*cover)
		}

		masked := addedDelays(t, c.fromCust.all(), c.custSent, c.atAgent)
		plain := addedDelays(t, c.fromAgent.all(), c.agentSent, c.atCust)
		mp50, up50 := durQuantile(masked, 0.5), durQuantile(plain, 0.5)
		if mp50 < la-10*time.Millisecond || mp50 > la+10*time.Millisecond {
			t.Errorf("%s: masked direction adds %v (p50), want L=%v +- 10ms", c.name, mp50, la)
		}
		if up50 >= 5*time.Millisecond {
			t.Errorf("%s: unmasked direction adds %v (p50), want < 5ms", c.name, up50)
		}
		t.Logf("%-12s %d packets each way; multimon-ng: input %d/16 keys, agent %d; %d samples outside the tones notched; masking reaches %.1f ms before and %.1f ms after a tone, covers >= %.0f%% of it; "+
			"added delay masked p50 %v p99 %v (L=%v), unmasked p50 %v p99 %v",
			c.name, len(c.fromCust.audio), len(want), len(heard), changed, float64(lead)/audioPerMs, float64(tail)/audioPerMs, 100*cover,
			mp50.Round(10*time.Microsecond), durQuantile(masked, 0.99).Round(10*time.Microsecond), la,
			up50.Round(10*time.Microsecond), durQuantile(plain, 0.99).Round(10*time.Microsecond))
	}
	if v := d.metric(`hush_late_masks_total{direction="customer_to_agent"}`); v != 0 {
		t.Errorf("late masks: %v", v)
	}
	if v := d.metric(`hush_notched_seconds_total{direction="customer_to_agent"}`); float64(changedAll) > v*audioRate+0.5 {
		t.Errorf("%d samples outside the tones changed, %.0f notched", changedAll, v*audioRate)
	}
	if v := d.metric(`hush_masked_seconds_total{direction="customer_to_agent"}`); v <= 0 {
		t.Errorf("masked seconds not counted: %v", v)
	}
	if v := d.metric(`hush_masked_seconds_total{direction="agent_to_customer"}`); v > 0 {
		t.Errorf("the unmasked direction counts %v masked seconds", v)
	}
}

// sipTesterEvents reads the RFC 4733 packets of a sip-tester capture (Debian package
// sip-tester) as the events of one key press, grouped into 20 ms ticks by capture time.
func sipTesterEvents(t *testing.T, path string) [][]dtmf.TelephoneEvent {
	t.Helper()
	requireFile(t, path, "sip-tester")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]dtmf.TelephoneEvent
	var first time.Time
	for range 1000 {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dg, err := pcap.UDP(rd.LinkType, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		var h rtp.Header
		var te dtmf.TelephoneEvent
		if _, err := h.Unmarshal(dg.Payload); err != nil || h.PayloadType != 101 {
			continue
		}
		if err := te.Unmarshal(h.Payload(dg.Payload)); err != nil {
			t.Fatal(err)
		}
		if first.IsZero() {
			first = rec.Time
		}
		k := int((rec.Time.Sub(first) + audioPtime/2) / audioPtime)
		for len(out) <= k {
			out = append(out, nil)
		}
		out[k] = append(out[k], te)
	}
	if len(out) == 0 {
		t.Fatalf("no telephone-events in %s", path)
	}
	return out
}

// TestMaskingRFC4733: the customer sends key presses as RFC 4733 telephone-events (payload
// type 101 from Leg.telephone_event_pt), generated and replayed from sip-tester's
// captures, interleaved with speech. Phones differ during a press: some send the in-band
// tone as well, some silence, some no audio at all. The agent never receives a
// telephone-event, every audio packet arrives once with its header, masking tone stands in
// where the phone sent no audio, and multimon-ng finds no key in what the agent hears.
func TestMaskingRFC4733(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	const tePT = 101
	const (
		inband  = iota // audio carries the tone too
		silent         // audio goes on, silent
		noAudio        // the phone sends only events
	)
	type keyPress struct {
		key   byte
		evs   [][]dtmf.TelephoneEvent
		audio int
		at    int // first sample, on a packet boundary
		span  int // samples the event covers
	}
	presses := []keyPress{
		{key: '7', evs: rfc4733Press('7', 100*audioPerMs), audio: inband},
		{key: 'D', evs: rfc4733Press('D', 60*audioPerMs), audio: silent},
		{key: '#', evs: rfc4733Press('#', 200*audioPerMs), audio: noAudio},
	}
	for i, k := range "0123456789*#" {
		file := map[rune]string{'*': "star", '#': "pound"}[k]
		if file == "" {
			file = string(k)
		}
		presses = append(presses, keyPress{key: byte(k), audio: i % 3,
			evs: sipTesterEvents(t, "/usr/share/sip-tester/dtmf_2833_"+file+".pcap")})
	}
	pos := 300 * audioPerMs
	var bursts []keyBurst
	want := ""
	for i := range presses {
		p := &presses[i]
		p.at = pos
		for _, tk := range p.evs {
			for _, te := range tk {
				p.span = max(p.span, int(te.Duration))
			}
		}
		b := keyBurst{key: p.key, at: p.at, dur: p.span, dbm0: -10}
		if p.audio != inband {
			b.dbm0 = math.Inf(-1) // speech kept clear, no tone
		} else {
			want += string(p.key)
		}
		bursts = append(bursts, b)
		pos += (p.span+audioFrame-1)/audioFrame*audioFrame + 200*audioPerMs
	}
	n := pos + 300*audioPerMs
	r := rand.New(rand.NewPCG(4733, 1))
	pcm := speechWithBursts(promptSpeech(t, n, 11*audioRate), bursts, r)
	st := newPhoneStream(audioPCMU, 0x4733, 40000, 123456)
	st.tePT = tePT
	events, quiet := 0, 0
	for i := 0; i < n/audioFrame; i++ {
		st.tick()
		at := i * audioFrame
		send := true
		for _, p := range presses {
			if p.audio == noAudio && at+audioFrame > p.at && at < p.at+p.span {
				send = false
			}
		}
		if send {
			st.audioAt(pcm, at)
		} else {
			quiet++
		}
		for _, p := range presses {
			if k := i - p.at/audioFrame; k >= 0 && k < len(p.evs) {
				for m, te := range p.evs[k] {
					st.event(p.at, te, k == 0 && m == 0)
					events++
				}
			}
		}
	}

	d := startDaemon(t)
	c := &maskCall{name: "rfc4733", cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0"),
		n: n, fromCust: st}
	leg := func(e *endpoint) *hushv1.Leg {
		return &hushv1.Leg{RemoteAddr: e.addr().String(), Codecs: map[uint32]string{0: "PCMU"}, TelephoneEventPt: tePT}
	}
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId: "rfc4733", Customer: leg(c.cust), Agent: leg(c.agent),
		Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_TONE}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	playCalls([]*maskCall{c})
	for _, err := range c.errs {
		t.Fatal(err)
	}

	sent := map[uint16][]byte{}
	for _, p := range st.audio {
		sent[rtpHeaderOf(t, p).SequenceNumber] = p
	}
	// How far behind its time each tick went out (relative to the first), and the tick of
	// each packet: a sender starved for longer than the masker's StallGrace is a phone whose
	// audio stopped, and the tone rightly stands in for it.
	tickOf := map[uint16]int{}
	late := make([]time.Duration, len(st.ticks))
	k := 0
	for i, tk := range st.ticks {
		if i > 0 {
			late[i] = late[i-1] // a tick with nothing to send
		}
		if len(tk) > 0 && k < len(c.custSent) {
			late[i] = c.custSent[k].Sub(c.custSent[0]) - time.Duration(i)*audioPtime
		}
		for _, p := range tk {
			tickOf[rtpHeaderOf(t, p).SequenceNumber] = i
			k++
		}
	}
	var audio []rxPacket
	stand, stalled := 0, 0
	for _, a := range c.atAgent {
		h := rtpHeaderOf(t, a.pkt)
		switch p, ok := sent[h.SequenceNumber]; {
		case h.PayloadType == tePT:
			t.Errorf("the agent received a telephone-event (seq %d)", h.SequenceNumber)
		case ok:
			audio = append(audio, a)
			if int32(h.Timestamp-rtpHeaderOf(t, p).Timestamp) != 0 || h.SSRC != st.ssrc {
				t.Errorf("audio packet seq %d changed its header", h.SequenceNumber)
			}
		case h.PayloadType == audioPCMU && h.SSRC == st.ssrc:
			// Masking tone in a telephone-event's place: only where the phone sent no audio.
			at := int(int32(h.Timestamp - st.ts0))
			inside := false
			for _, p := range presses {
				inside = inside || (p.audio == noAudio && at >= p.at && at < p.at+p.span)
			}
			if !inside {
				// How much later than the event packet whose place it took the phone sent
				// the audio over its stretch.
				ev, stall := tickOf[h.SequenceNumber], time.Duration(0)
				for i := ev; i <= min((at+len(h.Payload(a.pkt)))/audioFrame, len(late)-1); i++ {
					stall = max(stall, late[i]-late[ev])
				}
				if stall >= mask.StallGrace {
					t.Logf("a packet (seq %d ts %d) stands in for audio the phone sent %v late", h.SequenceNumber, h.Timestamp, stall.Round(time.Millisecond))
					stalled++
				} else {
					t.Errorf("a packet (seq %d ts %d) stands in for audio the phone did send (%v late)", h.SequenceNumber, h.Timestamp, stall.Round(time.Millisecond))
				}
			}
			stand++
		default:
			t.Errorf("unexpected packet pt %d seq %d", h.PayloadType, h.SequenceNumber)
		}
	}
	sameRTPStream(t, "audio", audio, st.audio, d.drops)
	dir := t.TempDir()
	if got := multimonDigits(t, dir, "rfc4733_in", decodeByTimestamp(st.audio, st.ts0, n)); got != want {
		t.Errorf("multimon-ng finds %q in the input audio, want %q", got, want)
	}
	heard := multimonDigits(t, dir, "rfc4733_agent", decodeByTimestamp(datagrams(c.atAgent), st.ts0, n))
	if heard != "" {
		t.Errorf("multimon-ng finds %d digits in what the agent received", len(heard))
	}
	if stand == 0 {
		t.Error("no masking tone where the phone sent only events")
	}
	// Every event was handled before the last audio packet behind it was released.
	if v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="masked_event"}`); v != float64(events) {
		t.Errorf("masked_event drops %v, want %d", v, events)
	}
	if stalled > 0 {
		t.Logf("%d stand-ins where the starved sender's audio came StallGrace late or more", stalled)
	}
	behind := time.Duration(0) // how far the sender fell behind its ticks at worst
	for _, l := range late {
		behind = max(behind, l)
	}
	t.Logf("%d key presses (%d from sip-tester captures), %d telephone-events withheld, %d audio packets forwarded, "+
		"%d tone packets stood in for %d packets the phone did not send; multimon-ng: input %d/%d in-band keys, agent 0; "+
		"the sender was at most %v behind",
		len(presses), len(presses)-3, events, len(audio), stand, quiet, len(want), len(want), behind.Round(time.Millisecond))
}

// TestMaskingFailsClosed: in a masked direction, a payload type hush cannot decode (G.729
// declared in the leg's codecs, or a payload type not declared at all) is dropped and
// counted as undecodable; audio around it still flows, and the unmasked direction forwards
// the same packets untouched. Secure capture masks the same way.
func TestMaskingFailsClosed(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	codecs := map[uint32]string{0: "PCMU", 18: "G729"}
	mk := func(call string, pol *hushv1.Policy) *hushv1.Session {
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
			CallId:   call,
			Customer: &hushv1.Leg{RemoteAddr: cust.addr().String(), Codecs: codecs},
			Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String(), Codecs: codecs},
			Policy:   pol,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	masked := mk("failclosed-policy", &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_SILENCE}})
	// Policy off: capture alone masks this one.
	capturing := mk("failclosed-capture", &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}})
	if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: capturing.SessionId, RequestId: "cap-1"}); err != nil {
		t.Fatal(err)
	}
	pkt := func(pt uint8, seq uint16, size int) []byte {
		h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * audioFrame, SSRC: 0x18}
		b := make([]byte, h.MarshalSize()+size)
		n, _ := h.MarshalTo(b)
		for i := range b[n:] {
			b[n+i] = byte(0x55 + i)
		}
		return b
	}
	drops := 0
	for _, s := range []*hushv1.Session{masked, capturing} {
		first, last := pkt(0, 1, audioFrame), pkt(0, 4, audioFrame)
		for _, p := range [][]byte{first, pkt(18, 2, 20), pkt(96, 3, audioFrame), last} {
			cust.send(s.Customer.LocalAddr, p)
		}
		drops += 2
		// The masked direction keeps order: once the last packet is out, so is all before it.
		if got, _ := agent.recv(); string(got) != string(first) {
			t.Fatalf("%s: first packet: got %x", s.CallId, got)
		}
		if got, _ := agent.recv(); string(got) != string(last) {
			t.Fatalf("%s: an undecodable packet reached the agent: %x", s.CallId, got)
		}
		// Counted on the packet goroutine before the last packet was queued.
		if v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="undecodable"}`); v != float64(drops) {
			t.Fatalf("%s: undecodable drops %v, want %d", s.CallId, v, drops)
		}
		got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
		if err != nil || got.Customer.Stats.PacketsDropped != 2 {
			t.Fatalf("%s: customer leg stats %v %v", s.CallId, got.GetCustomer().GetStats(), err)
		}
		// The agent's direction is not masked: G.729 and the unknown type pass untouched.
		for _, p := range [][]byte{pkt(18, 7, 20), pkt(96, 8, audioFrame)} {
			agent.send(s.Agent.LocalAddr, p)
			if got, _ := cust.recv(); string(got) != string(p) {
				t.Fatalf("%s: unmasked direction changed a packet", s.CallId)
			}
		}
	}
	if agent.pending() {
		t.Fatal("the agent got more than the audio")
	}
}

// TestMaskingOnByDefault: on a hushd nobody configured, a session created without a policy
// masks what the agent hears (tone, delayed by the 60 ms look-ahead): the customer keys a
// card prefix in-band and multimon-ng finds it in what the customer sent and not in what
// the agent received. The two documented ways to turn it off do turn it off (no delay,
// every packet byte-exact, the keys audible): MASK_MODE_OFF in the session's policy, and
// masking.customer_to_agent: off in the configuration.
func TestMaskingOnByDefault(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	d := startDaemon(t)
	configOff := startDaemon(t, "--masking-customer-to-agent", "off")
	const keys = "4111"
	r := rand.New(rand.NewPCG(148, 1))
	var bursts []keyBurst
	at := 200 * audioPerMs
	for i := range keys {
		bursts = append(bursts, keyBurst{key: keys[i], at: at + i*37, dur: 100 * audioPerMs, dbm0: -10})
		at += 250 * audioPerMs
	}
	n := (at + 200*audioPerMs) / audioFrame * audioFrame
	hiss := make([]float64, n)
	for i := range hiss {
		hiss[i] = 30 * r.NormFloat64()
	}
	pcm := speechWithBursts(hiss, bursts, r)
	var calls []*maskCall
	for i, cf := range []struct {
		name string
		d    *daemon
		pol  *hushv1.Policy
	}{
		{"default", d, nil},
		{"policy-off", d, &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}}},
		{"config-off", configOff, nil},
	} {
		c := &maskCall{name: cf.name, n: n, cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0"),
			fromCust: packetizeG711(audioPCMU, 0xdef0+uint32(i), 100, 8000, pcm)}
		s, err := cf.d.session.CreateSession(cf.d.ctx(), &hushv1.CreateSessionRequest{CallId: "default-" + cf.name,
			Customer: &hushv1.Leg{RemoteAddr: c.cust.addr().String()}, Agent: &hushv1.Leg{RemoteAddr: c.agent.addr().String()}, Policy: cf.pol})
		if err != nil {
			t.Fatal(err)
		}
		c.s = s
		calls = append(calls, c)
	}
	playCalls(calls)
	dir := t.TempDir()
	for i, c := range calls {
		for _, err := range c.errs {
			t.Fatalf("%s: %v", c.name, err)
		}
		sameRTPStream(t, c.name, c.atAgent, c.fromCust.audio, func() string {
			return d.drops() + " (masking off in the configuration: " + configOff.drops() + ")"
		})
		mp := c.s.GetPolicy().GetCustomerToAgent()
		heard := multimonDigits(t, dir, c.name, decodeByTimestamp(datagrams(c.atAgent), c.fromCust.ts0, n))
		delay := durQuantile(addedDelays(t, c.fromCust.all(), c.custSent, c.atAgent), 0.5)
		if i == 0 {
			if mp.GetMode() != hushv1.MaskMode_MASK_MODE_TONE || mp.GetLookAhead().AsDuration() != 60*time.Millisecond {
				t.Errorf("default policy toward the agent: %v, want tone with a 60ms look-ahead", mp)
			}
			if heard != "" {
				t.Errorf("default policy: multimon-ng finds %d of the customer's digits in what the agent heard", len(heard))
			}
			// A packet leaves at its arrival plus the look-ahead, once the packet that
			// completes its analysis has come, so the median sits at 60ms plus the
			// scheduling lag of a loaded test machine, which reached 10ms in a full run.
			// A whole packet time beyond that (80ms) is a longer delay than the policy's.
			if delay < 50*time.Millisecond || delay >= 80*time.Millisecond {
				t.Errorf("default policy adds %v (p50), want the 60ms look-ahead", delay)
			}
			if got := multimonDigits(t, dir, "input", decodeByTimestamp(c.fromCust.audio, c.fromCust.ts0, n)); got != keys {
				t.Fatalf("multimon-ng finds %q in the input, want %q", got, keys)
			}
			t.Logf("default: mode %v, look-ahead %v, added delay p50 %v, agent heard %d digits", mp.GetMode(), mp.GetLookAhead().AsDuration(), delay, len(heard))
			continue
		}
		if mp.GetMode() != hushv1.MaskMode_MASK_MODE_OFF || heard != keys || delay >= 5*time.Millisecond {
			t.Errorf("%s: mode %v, agent heard %q, added delay %v: want off, %q, < 5ms", c.name, mp.GetMode(), heard, delay, keys)
		}
		for j, a := range c.atAgent {
			if string(a.pkt) != string(c.fromCust.audio[j]) {
				t.Errorf("%s: packet %d not forwarded byte-exact", c.name, j)
				break
			}
		}
	}
}

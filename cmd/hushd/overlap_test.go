package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

var maskMatrix = flag.Bool("mask-matrix", false, "run the full masking matrix of keys over speech and music through hushd (make test-mask-matrix)")

// overlapCall is one case of the masking matrix played through hushd as a call.
type overlapCall struct {
	c           *dtmftest.Case
	s           *hushv1.Session
	cust, agent *endpoint
	pt          uint8
	ts0         uint32
	in, carrier []int16 // through the case's codec
	pkts        [][]byte
	got         []rxPacket
	errs        []error
}

// TestMaskingOverSpeechAndMusic: keys keyed over speech and music on hold, held, faded in,
// staggered, off frequency and twisted (dtmftest.Matrix: one case per class, or all 48
// with -mask-matrix), each case one call through a real hushd with the customer's audio
// sent at its packet time (PCMU or PCMA, 10/20/30 ms), tone masking toward the agent (the
// default), secure capture on and the call recorded. The three judges (multimon-ng,
// dtmf2num -o, spandsp) look for each keyed digit within 100 ms of its own time in what
// the agent received and in the recording's customer channel; no keyed digit they do not
// also find in the carrier alone there may be found (the bar: 0 leaks in every class).
func TestMaskingOverSpeechAndMusic(t *testing.T) {
	t.Parallel()
	judges := dtmftest.NewJudges(t)
	speech := dtmftest.Carrier(t, corpus.Files)
	music := dtmftest.Carrier(t, corpus.MusicFiles)
	from := func(all []float64) func(n, skip int) []float64 {
		return func(n, skip int) []float64 {
			out := make([]float64, n)
			for i := range out {
				out[i] = all[(skip+i)%len(all)]
			}
			return out
		}
	}
	cases := dtmftest.Matrix(*maskMatrix, from(speech), from(music))
	lo, hi := mediaRange(t, 4*len(cases)+8)
	recDir := t.TempDir()
	d := startDaemon(t, "--recording-enabled=true", "--recording-dir", recDir,
		"--media-port-min", fmt.Sprint(lo), "--media-port-max", fmt.Sprint(hi))
	var calls []*overlapCall
	for i := range cases {
		c := &cases[i]
		oc := &overlapCall{c: c, cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0"),
			ts0: 0x7fff0000 + uint32(i)<<12}
		mix, carrier := c.Mix()
		law, codec := g711.Ulaw, "PCMU"
		if c.Codec == "PCMA" {
			oc.pt, law, codec = audioPCMA, g711.Alaw, "PCMA"
		}
		oc.in, oc.carrier = roundTripLaw(law, mix), roundTripLaw(law, carrier)
		for at := 0; at+c.Ptime <= len(mix); at += c.Ptime {
			h := rtp.Header{Version: 2, PayloadType: oc.pt, SequenceNumber: uint16(at / c.Ptime), Timestamp: oc.ts0 + uint32(at),
				SSRC: 0x15000000 + uint32(i), Marker: at == 0}
			b := make([]byte, h.MarshalSize()+c.Ptime)
			n, _ := h.MarshalTo(b)
			g711Encode(oc.pt, b[n:], mix[at:at+c.Ptime])
			oc.pkts = append(oc.pkts, b)
		}
		name := strings.ReplaceAll(c.Name, "/", "_")
		codecs := map[uint32]string{uint32(oc.pt): codec}
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
			CallId: "overlap-" + name, RequestId: "create-" + name, AgentId: "agent-1",
			Customer: &hushv1.Leg{RemoteAddr: oc.cust.addr().String(), Codecs: codecs},
			Agent:    &hushv1.Leg{RemoteAddr: oc.agent.addr().String(), Codecs: codecs},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap-" + name, MaxDigits: 19}); err != nil {
			t.Fatal(err)
		}
		oc.s = s
		calls = append(calls, oc)
	}
	playOverlapCalls(calls)

	type tally struct {
		keys, heard   int // keys, and keys a judge finds in the input
		agent, record [dtmftest.NumJudges]int
	}
	groups := map[string]*tally{}
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	leaks := 0
	for _, oc := range calls {
		for _, err := range oc.errs {
			t.Errorf("%s: %v", oc.c.Name, err)
		}
		if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: oc.s.SessionId, RequestId: "del-" + oc.s.SessionId}); err != nil {
			t.Fatal(err)
		}
		n := len(oc.in)
		agent := decodeByTimestamp(datagrams(oc.got), oc.ts0, n)
		_, raw := download(t, d, oc.s.RecordingId, t.TempDir())
		chans, err := decodeWAV(raw, 2)
		if err != nil {
			t.Fatal(err)
		}
		// The recording places the customer's audio by RTP timestamp from the call's start.
		anchor := firstNonZero(chans[0]) - firstNonZero(oc.in)
		if anchor < 0 || anchor+n > len(chans[0]) {
			t.Fatalf("%s: the recording (%d samples) does not hold the call's %d from %d", oc.c.Name, len(chans[0]), n, anchor)
		}
		rec := chans[0][anchor : anchor+n]
		// Both line up with the input: away from the keys, most of the call is neither
		// masked nor notched.
		away := make([]bool, n)
		for i := range away {
			away[i] = true
		}
		for _, k := range oc.c.Keys() {
			for j := max(0, k.At-dtmftest.LeakWindow); j < min(n, k.At+k.Dur+dtmftest.LeakWindow); j++ {
				away[j] = false
			}
		}
		for what, out := range map[string][]int16{"what the agent heard": agent, "the recording": rec} {
			same, all := 0, 0
			for j := range out {
				if away[j] {
					all++
					if out[j] == oc.in[j] {
						same++
					}
				}
			}
			if same < all/2 {
				t.Errorf("%s: away from the keys, %s matches the input in %d of %d samples", oc.c.Name, what, same, all)
			}
		}
		g := groups[oc.c.Group]
		if g == nil {
			g = &tally{}
			groups[oc.c.Group] = g
			order = append(order, oc.c.Group)
		}
		g.keys += len(oc.c.Bursts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			keys := oc.c.Keys()
			la, err1 := judges.Leaks(agent, oc.carrier, keys)
			lr, err2 := judges.Leaks(rec, oc.carrier, keys)
			li, err3 := judges.Leaks(oc.in, oc.carrier, keys)
			mu.Lock()
			defer mu.Unlock()
			heard := map[int]bool{}
			for j := range li {
				for _, k := range li[j] {
					heard[k] = true
				}
			}
			g.heard += len(heard)
			for _, err := range []error{err1, err2, err3} {
				if err != nil {
					t.Error(err)
				}
			}
			for j := range dtmftest.NumJudges {
				g.agent[j] += len(la[j])
				g.record[j] += len(lr[j])
				leaks += len(la[j]) + len(lr[j])
				if len(la[j])+len(lr[j]) > 0 {
					t.Errorf("%s (%s %d ms): %v finds keys %v in what the agent heard, %v in the recording",
						oc.c.Name, oc.c.Codec, oc.c.Ptime/audioPerMs, dtmftest.JudgeName(j), la[j], lr[j])
				}
			}
		}()
	}
	wg.Wait()
	var b strings.Builder
	for _, name := range order {
		g := groups[name]
		fmt.Fprintf(&b, "\n%-10s %3d keys, %3d heard by a judge in the input; leaks agent/recording: multimon-ng %d/%d, dtmf2num %d/%d, spandsp %d/%d",
			name, g.keys, g.heard, g.agent[0], g.record[0], g.agent[1], g.record[1], g.agent[2], g.record[2])
		// The judges must hear keys in the input, or finding none in the output says nothing.
		if g.heard == 0 {
			t.Errorf("%s: no judge hears any key in the input", name)
		}
	}
	t.Logf("through hushd, %d calls:%s", len(calls), b.String())
	if v := d.metric(`hush_late_masks_total{direction="customer_to_agent"}`); v != 0 {
		t.Errorf("late masks: %v", v)
	}
	t.Logf("%d leaks; hush_masked_seconds_total %.2f s, hush_notched_seconds_total %.2f s toward the agent", leaks,
		d.metric(`hush_masked_seconds_total{direction="customer_to_agent"}`), d.metric(`hush_notched_seconds_total{direction="customer_to_agent"}`))
}

func roundTripLaw(law g711.Law, pcm []int16) []int16 {
	b := make([]byte, len(pcm))
	if law == g711.Alaw {
		g711.EncodeAlaw(b, pcm)
	} else {
		g711.EncodeUlaw(b, pcm)
	}
	out := make([]int16, len(pcm))
	law.Decode(out, b)
	return out
}

// playOverlapCalls sends every call's packets at its own packet time, all calls at once,
// and collects what each agent receives until the last packet sent toward it arrives.
func playOverlapCalls(calls []*overlapCall) {
	longest := time.Duration(0)
	for _, oc := range calls {
		longest = max(longest, time.Duration(len(oc.pkts)*oc.c.Ptime)*time.Second/audioRate)
	}
	deadline := time.Now().Add(longest + 3*wait)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	fail := func(oc *overlapCall, what string, err error) {
		if err != nil {
			mu.Lock()
			oc.errs = append(oc.errs, fmt.Errorf("%s: %w", what, err))
			mu.Unlock()
		}
	}
	for _, oc := range calls {
		wg.Add(2)
		go func() {
			defer wg.Done()
			fail(oc, "customer send", sendPaced(ctx, oc, addrPort(oc.s.Customer.LocalAddr)))
		}()
		go func() {
			defer wg.Done()
			var h rtp.Header
			h.Unmarshal(oc.pkts[len(oc.pkts)-1])
			var err error
			oc.got, err = receiveUntil(oc.agent.conn, deadline, rtpIs(h.SSRC, h.SequenceNumber))
			fail(oc, "agent receive", err)
		}()
	}
	wg.Wait()
}

// sendPaced sends a call's packets at their packet times from the start, on a phone's
// clock (phoneClock).
func sendPaced(ctx context.Context, oc *overlapCall, to netip.AddrPort) error {
	clk := newPhoneClock(time.Duration(oc.c.Ptime) * time.Second / audioRate)
	for i, p := range oc.pkts {
		if !clk.wait(ctx.Done(), i+1) {
			return ctx.Err()
		}
		if _, err := oc.cust.conn.WriteToUDPAddrPort(p, to); err != nil {
			return err
		}
	}
	return nil
}

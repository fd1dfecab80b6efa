package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/rtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// End-to-end tests of rtpengine's media verbs (block media, silence media, play DTMF)
// through a real hushd over its ng socket, with RTP flowing from the test.

// sdpMux is a phone's SDP with rtcp-mux (RTP and RTCP on one port, so an RTCP packet
// goes through the same socket and goroutine as the RTP before it), PCMA, and
// telephone-event when te.
func sdpMux(ap netip.AddrPort, te bool) string {
	pts, te101 := "8", ""
	if te {
		pts, te101 = "8 101", "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
	}
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP %[3]s\r\n"+
		"a=rtpmap:8 PCMA/8000\r\n%[4]sa=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n", ap.Addr(), ap.Port(), pts, te101)
}

// ngMediaCall is a call set up over ng: the caller (the customer) and the callee (the
// agent), and where each sends to reach hush.
type ngMediaCall struct {
	d                  *daemon
	c                  *ngClient
	callID             string
	caller, callee     *endpoint
	callerIn, calleeIn netip.AddrPort
	sessionID          string
}

func newNGMediaCall(t *testing.T, d *daemon, callID string, calleeTE bool, offerKeys map[string]any) *ngMediaCall {
	t.Helper()
	m := &ngMediaCall{d: d, c: d.ng(), callID: callID,
		caller: newEndpoint(t, "udp4", "127.0.0.1:0"), callee: newEndpoint(t, "udp4", "127.0.0.1:0")}
	offer := map[string]any{"command": "offer", "call-id": callID, "from-tag": "caller-tag", "sdp": sdpMux(m.caller.addr(), true),
		"flags": []any{"trust-address"}, "replace": []any{"origin", "session-connection"}, "ICE": "remove"}
	for k, v := range offerKeys {
		offer[k] = v
	}
	m.calleeIn = hushIn(t, m.c.call(offer))
	m.callerIn = hushIn(t, m.c.call(map[string]any{"command": "answer", "call-id": callID, "from-tag": "caller-tag",
		"to-tag": "callee-tag", "sdp": sdpMux(m.callee.addr(), calleeTE), "flags": []any{"trust-address"}}))
	list, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{CallId: callID})
	if err != nil || len(list.GetSessions()) != 1 {
		t.Fatalf("gRPC sees %d sessions (%v)", len(list.GetSessions()), err)
	}
	m.sessionID = list.GetSessions()[0].GetSessionId()
	return m
}

// ng sends an ng command about the call and wants ok.
func (m *ngMediaCall) ng(t *testing.T, d map[string]any) {
	t.Helper()
	d["call-id"] = m.callID
	if out := m.c.call(d); out["result"] != "ok" {
		t.Fatalf("%v: %v", d["command"], out)
	}
}

// tone440 is n samples of a 440 Hz tone at about -10 dBm0: audio that is never silence.
func tone440(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(7000 * math.Sin(2*math.Pi*440*float64(i)/audioRate))
	}
	return pcm
}

// checkSilencedPCMA checks that got is sent with its payload all PCMA silence and
// everything else (header, sequence number, timestamp, SSRC, length) as sent.
func checkSilencedPCMA(t *testing.T, got, sent []byte) {
	t.Helper()
	var g rtp.Header
	if _, err := g.Unmarshal(got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) || !bytes.Equal(got[:g.HeaderLength], sent[:g.HeaderLength]) {
		t.Fatalf("a silenced packet's header or length changed")
	}
	for _, b := range g.Payload(got) {
		if b != 0xd5 {
			t.Fatalf("a silenced packet carries %#x, not PCMA silence", b)
		}
	}
}

// TestNGBlockAndSilenceMedia: block media from the caller stops every RTP packet of
// its, audio and RFC 4733 alike, from reaching the callee while RTCP and the other
// direction flow; silence media delivers every packet with PCMA silence and the header,
// sequence number, timestamp and SSRC it came with, and no event; unblocking and
// unsilencing restore byte-exact forwarding. GetSession, the watch stream, the audit log
// and the recording's sidecar all show each change, and the recording hears the blocked
// and silenced stretches as silence.
func TestNGBlockAndSilenceMedia(t *testing.T) {
	dir := t.TempDir()
	recDir, keyFile, auditFile := filepath.Join(dir, "rec"), filepath.Join(dir, "recording.kek"), filepath.Join(dir, "audit.jsonl")
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0", "--recording-enabled=true", "--recording-dir", recDir,
		"--recording-key-file", keyFile, "--audit-file", auditFile)
	m := newNGMediaCall(t, d, "block-1@pbx", true, map[string]any{"hush-mask-to-agent": "off"})
	w := d.watch(m.sessionID)

	const segment = 10 // packets per stretch
	plan := []string{"forward", "block", "forward", "silence", "forward"}
	st := packetizeG711(audioPCMA, 0xb10c, 100, 8000, tone440(len(plan)*segment*audioFrame))
	ev := newPhoneStream(audioPCMA, 0xb10c, 0, 0) // RFC 4733 packets of the same stream
	rr := receiverReport(0xb10c)
	clk := newPhoneClock(audioPtime) // the phone's pace: the recording places audio by arrival
	blocked := 0                     // packets sent that hush must count as blocked
	for i, p := range st.audio {
		flow := plan[i/segment]
		if i%segment == 0 {
			switch {
			case flow == "block":
				m.ng(t, map[string]any{"command": "block media", "from-tag": "caller-tag", "flags": []any{"directional"}})
			case flow == "silence":
				m.ng(t, map[string]any{"command": "silence media", "from-tag": "caller-tag"})
			case i > 0 && plan[i/segment-1] == "block":
				m.ng(t, map[string]any{"command": "unblock media", "from-tag": "caller-tag", "flags": []any{"directional"}})
			case i > 0 && plan[i/segment-1] == "silence":
				m.ng(t, map[string]any{"command": "unsilence media", "from-tag": "caller-tag"})
			}
			if i > 0 {
				want := map[string]hushv1.MediaFlow{"forward": hushv1.MediaFlow_MEDIA_FLOW_FORWARD,
					"block": hushv1.MediaFlow_MEDIA_FLOW_BLOCK, "silence": hushv1.MediaFlow_MEDIA_FLOW_SILENCE}[flow]
				e := w.until(func(e *hushv1.SessionEvent) bool { return e.GetUpdated() != nil })
				if !slices.Equal(e.GetUpdated().GetPaths(), []string{"policy.customer_to_agent.flow"}) || e.GetActor() != "ng:127.0.0.1" ||
					e.GetUpdated().GetSession().GetPolicy().GetCustomerToAgent().GetFlow() != want {
					t.Fatalf("event %v", e)
				}
				s, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: m.sessionID})
				if err != nil || s.GetPolicy().GetCustomerToAgent().GetFlow() != want ||
					s.GetPolicy().GetAgentToCustomer().GetFlow() != hushv1.MediaFlow_MEDIA_FLOW_FORWARD {
					t.Fatalf("GetSession: %v %v", s.GetPolicy(), err)
				}
			}
		}
		clk.wait(nil, i+1)
		m.caller.send(m.callerIn.String(), p)
		switch flow {
		case "forward":
			if got, from := m.callee.recv(); !bytes.Equal(got, p) || from != m.calleeIn {
				t.Fatalf("packet %d (%s): %d bytes from %v", i, flow, len(got), from)
			}
		case "silence":
			got, _ := m.callee.recv()
			checkSilencedPCMA(t, got, p)
		case "block":
			blocked++
		}
		if flow == "forward" {
			continue
		}
		// A key press of the caller's, as RFC 4733 events, in a blocked or silenced
		// stretch: it never reaches the callee.
		if i%segment == 3 {
			var h rtp.Header
			h.Unmarshal(p)
			for _, te := range []dtmf.TelephoneEvent{{Event: 4, Duration: 160}, {Event: 4, End: true, Duration: 320}} {
				pay, _ := te.Marshal()
				e := ev.add(rtp.Header{PayloadType: 101, Timestamp: h.Timestamp}, pay)
				m.caller.send(m.callerIn.String(), e)
				blocked++
			}
		}
		if i%segment == segment-1 {
			// RTCP through the same socket, after everything above: once it has come
			// through, anything forwarded before it would be waiting at the callee.
			m.caller.send(m.callerIn.String(), rr)
			if got, _ := m.callee.recv(); !bytes.Equal(got, rr) {
				t.Fatalf("%s stretch: the callee got %d bytes, not the caller's RTCP", flow, len(got))
			}
			if m.callee.pending() {
				t.Fatalf("%s stretch: the callee got a packet it must not", flow)
			}
			// The other direction flows all along.
			back := newStream(uint64(i)).next(t)
			m.callee.send(m.calleeIn.String(), back)
			if got, _ := m.caller.recv(); !bytes.Equal(got, back) {
				t.Fatal("the caller did not get the callee's packet")
			}
		}
	}
	// The blocked stretch's audio and events, and the silenced stretch's events.
	if v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="blocked"}`); v != float64(blocked) {
		t.Fatalf("%v packets counted blocked, want %d", v, blocked)
	}
	m.ng(t, map[string]any{"command": "delete"})

	// The audit trail names each change and who made it.
	audit, _ := os.ReadFile(auditFile)
	for _, want := range []string{`"action":"session.update"`, `block media: customer_to_agent=block agent_to_customer=forward`,
		`silence media: customer_to_agent=silence`, `unsilence media: customer_to_agent=forward`} {
		if !strings.Contains(string(audit), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	// The recording: the caller's channel silent where it was blocked or silenced, the
	// tone elsewhere; the sidecar's actions say who did it.
	side, err := filepath.Glob(filepath.Join(recDir, "*", "*", "*", "*.json"))
	if err != nil || len(side) != 1 {
		t.Fatalf("recordings: %v %v", side, err)
	}
	raw, _ := os.ReadFile(side[0])
	raw, _ = unsealed(t, side[0], raw, keyFile)
	var sc struct {
		Actions []struct{ Action, Actor string } `json:"actions"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, a := range sc.Actions {
		if strings.HasPrefix(a.Action, "media_") && a.Actor == "ng:127.0.0.1" {
			acts = append(acts, a.Action)
		}
	}
	if want := []string{"media_block customer_to_agent", "media_forward customer_to_agent", "media_silence customer_to_agent",
		"media_forward customer_to_agent"}; !slices.Equal(acts, want) {
		t.Fatalf("sidecar actions %q, want %q", acts, want)
	}
	wav := strings.TrimSuffix(side[0], ".json") + ".wav"
	sealed, _ := os.ReadFile(wav)
	_, wav = unsealed(t, wav, sealed, keyFile)
	ch, err := dtmftest.ReadWAV(wav)
	if err != nil || len(ch) != 2 {
		t.Fatalf("recording: %v", err)
	}
	// Find the caller's tone and judge each 20 ms by the stretch it belongs to, leaving
	// a packet of slack at each change (the recording places audio by its arrival).
	cust := ch[0]
	first := slices.IndexFunc(cust, func(s int16) bool { return s > 1000 || s < -1000 })
	if first < 0 {
		t.Fatal("the caller's channel holds no audio")
	}
	for i := range len(plan) * segment {
		if i%segment == 0 || i%segment == segment-1 {
			continue
		}
		lo := first + i*audioFrame
		if lo+audioFrame > len(cust) {
			t.Fatalf("the caller's channel ends at packet %d", i)
		}
		loud := slices.ContainsFunc(cust[lo:lo+audioFrame], func(s int16) bool { return s > 1000 || s < -1000 })
		if want := plan[i/segment] == "forward"; loud != want {
			t.Errorf("packet %d (%s): recorded loud %v", i, plan[i/segment], loud)
		}
	}
}

// TestNGPlayDTMF: play DTMF from the caller plays its keys toward the callee, whose SDP
// has no telephone-event, in band on the caller's own packets: every packet arrives with
// the sequence number, timestamp and SSRC it was sent with, and multimon-ng hears exactly
// the keys played. From the callee toward the caller (who offered telephone-event) a key
// goes as RFC 4733 events. The keys are not the caller's: automatic pause on DTMF does not
// fire, the recording holds none, and the sidecar and audit log say a key was played,
// never which. Toward a masked agent, play DTMF is refused as unsafe.
func TestNGPlayDTMF(t *testing.T) {
	dir := t.TempDir()
	recDir, keyFile, auditFile := filepath.Join(dir, "rec"), filepath.Join(dir, "recording.kek"), filepath.Join(dir, "audit.jsonl")
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0", "--recording-enabled=true", "--recording-dir", recDir,
		"--recording-key-file", keyFile, "--audit-file", auditFile)
	multimon := needDebianTool(t, "multimon-ng", "multimon-ng")

	// A masked agent (the default) hears no played key.
	masked := newNGMediaCall(t, d, "play-0@pbx", false, nil)
	out := masked.c.call(map[string]any{"command": "play DTMF", "call-id": masked.callID, "from-tag": "caller-tag", "code": "1"})
	if out["result"] != "error" || !strings.Contains(out["error-reason"].(string), "unsafe") {
		t.Fatalf("toward a masked agent: %v", out)
	}
	if v := d.metric(`hush_ng_errors_total{reason="unsafe"}`); v != 1 {
		t.Fatalf("unsafe refusals counted %v", v)
	}
	masked.ng(t, map[string]any{"command": "delete"})

	m := newNGMediaCall(t, d, "play-1@pbx", false, map[string]any{"hush-mask-to-agent": "off"})
	// Automatic pause on DTMF: a key the detector took for a party's would pause the
	// recording.
	if _, err := d.session.UpdateSession(d.ctx(), &hushv1.UpdateSessionRequest{SessionId: m.sessionID,
		Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}, AutoPauseOnDtmf: true}}); err != nil {
		t.Fatal(err)
	}
	w := d.watch(m.sessionID)
	const n = 100 // 2 s
	speech := dtmftest.Quantize(promptSpeech(t, n*audioFrame, 40000))
	for i := range speech {
		speech[i] /= 8 // quiet speech under the keys
	}
	up := packetizeG711(audioPCMA, 0xca11, 65500, 0xfffff000, speech) // sequence numbers and timestamps wrap
	down := packetizeG711(audioPCMA, 0xca1e, 7, 1234, speech)
	var heard, got [][]byte
	clk := newPhoneClock(audioPtime)
	for i := range n {
		switch i {
		case 5:
			m.ng(t, map[string]any{"command": "play DTMF", "from-tag": "caller-tag", "code": "5"})
			m.ng(t, map[string]any{"command": "play DTMF", "from-tag": "caller-tag", "code": int64(11), "duration": int64(200), "volume": int64(10)})
			m.ng(t, map[string]any{"command": "play DTMF", "from-tag": "callee-tag", "digit": "9", "duration": int64(100)})
		}
		clk.wait(nil, i+1)
		m.caller.send(m.callerIn.String(), up.audio[i])
		m.callee.send(m.calleeIn.String(), down.audio[i])
		b, _ := m.callee.recv()
		heard = append(heard, b)
		b, _ = m.caller.recv()
		got = append(got, b)
	}
	// Toward the callee: every packet as sent but for the payload, the keys in band.
	var h, s rtp.Header
	for i, b := range heard {
		h.Unmarshal(b)
		s.Unmarshal(up.audio[i])
		if h.SequenceNumber != s.SequenceNumber || h.Timestamp != s.Timestamp || h.SSRC != s.SSRC || h.PayloadType != 8 || len(b) != len(up.audio[i]) {
			t.Fatalf("packet %d reached the callee as seq %d ts %d ssrc %x pt %d, sent as seq %d ts %d", i,
				h.SequenceNumber, h.Timestamp, h.SSRC, h.PayloadType, s.SequenceNumber, s.Timestamp)
		}
	}
	if keys := multimonDigits(t, dir, "callee-heard", decodeByTimestamp(heard, 0xfffff000, n*audioFrame)); keys != "5#" {
		t.Fatalf("multimon-ng hears %q at the callee, want 5#", keys)
	}
	if keys := multimonDigits(t, dir, "caller-said", speech); keys != "" {
		t.Fatalf("the speech itself holds keys %q: the test would prove nothing", keys)
	}
	// Toward the caller: RFC 4733 events of key 9 on the callee's packets.
	var events []dtmf.TelephoneEvent
	for i, b := range got {
		h.Unmarshal(b)
		s.Unmarshal(down.audio[i])
		if h.SequenceNumber != s.SequenceNumber || h.SSRC != s.SSRC {
			t.Fatalf("packet %d reached the caller as seq %d ssrc %x", i, h.SequenceNumber, h.SSRC)
		}
		if h.PayloadType == 101 {
			var te dtmf.TelephoneEvent
			if err := te.Unmarshal(h.Payload(b)); err != nil {
				t.Fatal(err)
			}
			events = append(events, te)
		}
	}
	if len(events) != 7 || events[0].Event != 9 || !events[6].End || events[6].Duration != 800 || events[0].Volume != 8 {
		t.Fatalf("the caller got events %+v", events)
	}
	m.ng(t, map[string]any{"command": "delete"})

	// No automatic pause: hush never took a played key for a party's. Each key played
	// is an event naming whom it went to (the event has no field for the key).
	var toward []hushv1.LegName
	for e := w.next(); e.GetEnded() == nil; e = w.next() {
		if e.GetRecording() != nil {
			t.Fatalf("recording event %v: a played key was taken for a party's", e)
		}
		if p := e.GetDtmfPlayed(); p != nil {
			toward = append(toward, p.GetToward())
		}
	}
	if want := []hushv1.LegName{hushv1.LegName_LEG_NAME_AGENT, hushv1.LegName_LEG_NAME_AGENT, hushv1.LegName_LEG_NAME_CUSTOMER}; !slices.Equal(toward, want) {
		t.Fatalf("played events toward %v, want %v", toward, want)
	}
	audit, _ := os.ReadFile(auditFile)
	if c := strings.Count(string(audit), `"action":"dtmf.play"`); c != 4 {
		t.Fatalf("%d dtmf.play audit records, want 4 (3 played, 1 refused)", c)
	}
	side, _ := filepath.Glob(filepath.Join(recDir, "*", "*", "*", "*.json"))
	for _, sp := range side {
		raw, _ := os.ReadFile(sp)
		raw, _ = unsealed(t, sp, raw, keyFile)
		if !strings.Contains(string(raw), "play-1@pbx") {
			continue
		}
		if c := strings.Count(string(raw), "dtmf_played toward"); c != 3 {
			t.Fatalf("the sidecar notes %d keys played, want 3", c)
		}
		wav := strings.TrimSuffix(sp, ".json") + ".wav"
		sealed, _ := os.ReadFile(wav)
		_, wav = unsealed(t, wav, sealed, keyFile)
		ch, err := dtmftest.ReadWAV(wav)
		if err != nil || len(ch) != 2 {
			t.Fatalf("recording: %v", err)
		}
		for i, c := range ch {
			mono := filepath.Join(dir, fmt.Sprintf("rec-%d.wav", i))
			if err := dtmftest.WriteWAV(mono, c); err != nil {
				t.Fatal(err)
			}
			if keys := dtmftest.JudgeFile(t, multimon, mono); keys != "" {
				t.Fatalf("multimon-ng hears %q in the recording's channel %d", keys, i)
			}
		}
		return
	}
	t.Fatal("no recording of the call")
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// The recording through hushd end to end: DTMF never reaches a recording (judged by
// multimon-ng), pauses land where the request arrived, and a full disk fails the
// recording but not the call. Conditions run as parallel sessions on one daemon, at real
// 20 ms pace: the recorder places audio by RTP timestamp from a wall-clock anchor per leg.

// tctx is a deadline for one RPC of a (sub)test.
func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func recordingDaemon(t *testing.T, dir string, extra ...string) *daemon {
	t.Helper()
	return startDaemon(t, append([]string{"--recording-enabled=true", "--recording-dir", dir}, extra...)...)
}

// legPlan is one phone's side of a masking call.
type legPlan struct {
	keys  string
	tones []keyBurst
	in    []int16 // what hush decodes: the judge's input
	pkts  []timed
}

// Tone lengths (ms) and levels (dBm0 per tone) of the masking matrix; each leg keys every
// combination twice, at onsets spread over the sample positions of a packet.
var (
	toneLengths = []int{40, 100, 500}
	toneLevels  = []float64{-10, -25}
)

// planLeg lays out one leg: a marker packet (so the leg's first recorded sample is
// non-zero and its anchor can be found), speech, and the tones, speech kept 20 ms clear
// of them. With events the phone also sends RFC 4733 telephone-events over each tone, as
// phones that send both do.
func planLeg(t *testing.T, ph *phone, keys string, lead int, events bool, r *rand.Rand) legPlan {
	t.Helper()
	const gap = 250 * audioPerMs
	var tones []keyBurst
	at, i := lead, 0
	for rep := range 2 {
		for _, ms := range toneLengths {
			for _, db := range toneLevels {
				b := keyBurst{key: keys[i], at: at + (i*37+rep*71+lead)%audioFrame, dur: ms * audioPerMs, dbm0: db}
				tones = append(tones, b)
				at = (b.at + b.dur + gap + audioFrame - 1) / audioFrame * audioFrame
				i++
			}
		}
	}
	n := at + gap/audioFrame*audioFrame
	pcm := speechWithBursts(promptSpeech(t, n, lead*7), tones, r)
	for j := range audioFrame {
		pcm[j] = 2000
	}

	// RFC 4733 section 2.5.1: an event packet every 20 ms while the key is down, the
	// duration growing from the event's start, the last one (E bit) sent three times.
	type ev struct {
		b          keyBurst
		dur        int
		start, end bool
	}
	evs := map[int][]ev{}
	if events {
		for _, b := range tones {
			for s := b.at / audioFrame; ; s++ {
				end := min(b.at+b.dur, (s+1)*audioFrame)
				if end == b.at+b.dur {
					for k := range 3 {
						evs[s+k] = append(evs[s+k], ev{b: b, dur: b.dur, end: true})
					}
					break
				}
				evs[s] = append(evs[s], ev{b: b, dur: end - b.at, start: s == b.at/audioFrame})
			}
		}
	}
	p := legPlan{keys: keys, tones: tones, in: decoded(ph.pt, pcm)}
	for k := 0; k*audioFrame < n; k++ {
		p.pkts = append(p.pkts, timed{k, ph.audio(t, k*audioFrame, pcm[k*audioFrame:(k+1)*audioFrame])})
		for _, e := range evs[k] {
			p.pkts = append(p.pkts, timed{k, ph.event(t, e.b.key, e.b.at, e.dur, e.b.dbm0, e.start, e.end)})
		}
	}
	return p
}

// nearTone reports whether stream sample n is within a burst's guard (keyBurst.near).
func nearTone(tones []keyBurst, n int) bool {
	for _, b := range tones {
		if b.near(n) {
			return true
		}
	}
	return false
}

// firstNonZero is the anchor of a leg whose first sample is not zero.
func firstNonZero(ch []int16) int {
	for i, v := range ch {
		if v != 0 {
			return i
		}
	}
	return -1
}

// TestRecordingMasksDTMF: every recording of a masking matrix (tones of 40, 100 and 500 ms
// at -10 and -25 dBm0 per tone, onsets all over a packet, keyed by the customer and by
// the agent, in-band and with RFC 4733 events, speech in between) has no digit for
// multimon-ng, while the same input written by the test shows every digit. Forwarding
// policy is off: recordings are masked regardless. soxi reads each file as 2 channels,
// 8 kHz, 16 bit, as long as the call; outside the tones the recording is the input
// sample for sample, on the timeline; the sidecar lists a mask span over every tone.
func TestRecordingMasksDTMF(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	needDebianTool(t, "soxi", "sox")
	recDir := filepath.Join(t.TempDir(), "recordings")
	d := recordingDaemon(t, recDir)
	conds := []struct {
		name             string
		events           bool
		custPT, agentPT  uint8
		custKeys, agKeys string
	}{
		{"inband", false, 0, 8, "123A456B789C", "456B789C*0#D"},
		{"rfc4733", true, 8, 0, "*0#D123A456B", "789C*0#D123A"},
	}
	for ci, c := range conds {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := rand.New(rand.NewPCG(uint64(ci)+1, 99))
			var evPT uint8
			if c.events {
				evPT = 101
			}
			cust := newEndpoint(t, "udp4", "127.0.0.1:0")
			agent := newEndpoint(t, "udp4", "127.0.0.1:0")
			custPh := &phone{pt: c.custPT, eventPT: evPT, ssrc: 0xc0000000 + uint32(ci), seq: 100, ts0: 4000}
			agentPh := &phone{pt: c.agentPT, eventPT: evPT, ssrc: 0xa0000000 + uint32(ci), seq: 65500, ts0: 0xfffff000}
			plans := [2]legPlan{
				planLeg(t, custPh, c.custKeys, 10*audioFrame, c.events, r),
				planLeg(t, agentPh, c.agKeys, 16*audioFrame+audioFrame/2, c.events, r),
			}
			c0 := time.Now()
			s, err := d.session.CreateSession(tctx(t), &hushv1.CreateSessionRequest{
				CallId: "mask-" + c.name, RequestId: "create-" + c.name, AgentId: "agent-1",
				Customer: &hushv1.Leg{RemoteAddr: cust.addr().String(), TelephoneEventPt: uint32(evPT)},
				Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String(), TelephoneEventPt: uint32(evPT)},
			})
			c1 := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			if s.RecordingState != hushv1.RecordingState_RECORDING_STATE_ACTIVE || s.RecordingId == "" {
				t.Fatalf("recording %v %q", s.RecordingState, s.RecordingId)
			}
			p := pace([]wire{
				{from: cust, to: addrPort(s.Customer.LocalAddr), pkts: plans[0].pkts},
				{from: agent, to: addrPort(s.Agent.LocalAddr), pkts: plans[1].pkts},
			})
			slots := max(plans[0].pkts[len(plans[0].pkts)-1].slot, plans[1].pkts[len(plans[1].pkts)-1].slot)
			p.wait(t, slots)
			d0 := time.Now()
			if _, err := d.session.DeleteSession(tctx(t), &hushv1.DeleteSessionRequest{SessionId: s.SessionId, RequestId: "del-" + c.name}); err != nil {
				t.Fatal(err)
			}
			d1 := time.Now()

			rec, err := hushv1.NewRecordingServiceClient(d.conn).GetRecording(tctx(t), &hushv1.GetRecordingRequest{RecordingId: s.RecordingId})
			if err != nil {
				t.Fatal(err)
			}
			path, raw := download(t, d, s.RecordingId, dir)
			if rec.Status != hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE {
				t.Errorf("status %v", rec.Status)
			}
			if sum := sha256.Sum256(raw); rec.Sha256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sidecar sha256 %s is not the downloaded file's", rec.Sha256)
			}
			f := checkStereo(t, path)
			wavDur := time.Duration(f.samples) * time.Second / audioRate
			call := mid(d0, d1).Sub(mid(c0, c1))
			chans, err := decodeWAV(raw, 2)
			if err != nil {
				t.Fatalf("go-audio/wav: %v", err)
			}
			if int64(len(chans[0])) != f.samples {
				t.Fatalf("go-audio/wav reads %d samples, soxi %d", len(chans[0]), f.samples)
			}
			if got := judge(t, path); got != "" {
				t.Errorf("multimon-ng finds %d digits in the stereo recording", len(got))
			}
			legName := [2]string{"customer", "agent"}
			legPB := [2]hushv1.LegName{hushv1.LegName_LEG_NAME_CUSTOMER, hushv1.LegName_LEG_NAME_AGENT}
			var report [2]string
			lastAudio := 0 // where the later leg's audio ends in the file
			for l := range 2 {
				pl, ch := plans[l], chans[l]
				inDigits := multimonDigits(t, dir, legName[l]+"_in", pl.in)
				if inDigits != pl.keys {
					t.Errorf("%s: multimon-ng finds %q in the input, want %q: the judge cannot be trusted", legName[l], inDigits, pl.keys)
				}
				recDigits := multimonDigits(t, dir, legName[l]+"_rec", ch)
				if recDigits != "" {
					t.Errorf("%s: multimon-ng finds %d digits in the recording", legName[l], len(recDigits))
				}
				// Placed by RTP timestamp: outside the tones the channel is the input, sample
				// for sample, from the leg's anchor on, but where the notch took the DTMF
				// bands out; nothing there is recorded as silence.
				anchor := firstNonZero(ch)
				if anchor < 0 || anchor+len(pl.in) > len(ch) {
					t.Fatalf("%s: anchor %d, %d input samples, %d recorded", legName[l], anchor, len(pl.in), len(ch))
				}
				lastAudio = max(lastAudio, anchor+len(pl.in))
				silenced, notched, compared := 0, 0, 0
				for n, v := range pl.in {
					if nearTone(pl.tones, n) {
						continue
					}
					compared++
					switch got := ch[anchor+n]; {
					case got == v:
					case got == 0 && (v >= 64 || v <= -64) && zeroRun(ch, anchor+n) >= 16:
						silenced++ // a stretch of silence: replaced (a notched sample may fall on 0)
					default:
						notched++
					}
				}
				if silenced != 0 {
					t.Errorf("%s: %d of %d samples away from the tones recorded as silence", legName[l], silenced, compared)
				}
				for _, b := range pl.tones {
					lo, hi := uint64(anchor+b.at), uint64(anchor+b.at+b.dur)
					covered := false
					for _, m := range rec.Masks {
						covered = covered || m.Leg == legPB[l] && m.StartSample <= lo && m.EndSample >= hi
					}
					if !covered {
						t.Errorf("%s: no sidecar mask span covers the %d ms %v dBm0 tone at timeline %d..%d (%d spans)",
							legName[l], b.dur/audioPerMs, b.dbm0, lo, hi, len(rec.Masks))
					}
				}
				report[l] = fmt.Sprintf("%s keys: input %d/%d digits, recording %d, %d samples away from the tones notched",
					legName[l], len(inDigits), len(pl.keys), len(recDigits), notched)
			}
			// The file ends with the last audio (TestRecordingTimelineMatchesCall holds it
			// to the call's wall-clock length).
			if tail := int(f.samples) - lastAudio; tail < 0 || tail > 2*audioFrame {
				t.Errorf("the WAV ends %d samples after the last audio, want 0..%d", tail, 2*audioFrame)
			}
			t.Logf("%s: %s; %s; stereo recording 0 digits; WAV %.3f s, call %.3f s (create..delete), diff %+.1f ms; %d mask spans",
				c.name, report[0], report[1], wavDur.Seconds(), call.Seconds(), float64(wavDur-call)/1e6, len(rec.Masks))
		})
	}
}

// The customer's stream in the pause test says where each sample came from: packet k is
// 80 samples of u-law code 0xfe-k (positive) then 80 of 0x7e-k (negative), so every
// half-packet has a value of its own and a recorded sample names its packet and half.
const codedPackets = 127

var codedHalf = func() map[int16]int {
	m := map[int16]int{}
	for k := range codedPackets {
		m[g711.UlawToLinear(byte(0xfe-k))] = 2 * k
		m[g711.UlawToLinear(byte(0x7e-k))] = 2*k + 1
	}
	return m
}()

func codedPayload(k int) []int16 {
	pcm := make([]int16, audioFrame)
	for j := range pcm {
		code := byte(0xfe - k)
		if j >= audioFrame/2 {
			code = byte(0x7e - k)
		}
		pcm[j] = g711.UlawToLinear(code)
	}
	return pcm
}

// codedIndex maps each recorded sample of the coded stream to its stream sample (-1:
// silence). A half-packet run shorter than 80 was cut by a pause or the end: it ends at
// its natural end when its natural successor follows, else it starts at its start.
func codedIndex(t *testing.T, ch []int16) []int {
	t.Helper()
	out := make([]int, len(ch))
	for p := 0; p < len(ch); {
		q := p
		for q < len(ch) && ch[q] == ch[p] {
			q++
		}
		if ch[p] == 0 {
			for i := p; i < q; i++ {
				out[i] = -1
			}
			p = q
			continue
		}
		h, ok := codedHalf[ch[p]]
		if !ok || q-p > audioFrame/2 {
			t.Fatalf("recorded samples %d..%d (value %d) are not from the customer's stream", p, q, ch[p])
		}
		start := h * audioFrame / 2
		if q-p < audioFrame/2 && q < len(ch) {
			if nh, ok := codedHalf[ch[q]]; ok && nh == h+1 {
				start += audioFrame/2 - (q - p)
			}
		}
		for i := p; i < q; i++ {
			out[i] = start + i - p
		}
		p = q
	}
	return out
}

// TestRecordingPauseBoundaries: PauseRecording then ResumeRecording mid-call, SILENCE and
// SKIP as parallel sessions. The pause span in the sidecar, and the silence (or cut) in
// the WAV, fall within a packet of the stream sample the customer was sending when each
// RPC arrived; SILENCE keeps the WAV as long as the call, SKIP shortens it by the pause.
// Pausing a paused recording is no error, and repeating a request id changes nothing.
func TestRecordingPauseBoundaries(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "soxi", "sox")
	recDir := filepath.Join(t.TempDir(), "recordings")
	d := recordingDaemon(t, recDir)
	const slots, pauseAt, resumeAt = 125, 30, 85
	var agentSpeech []int16
	for _, v := range promptSpeech(t, slots*audioFrame, 0) {
		agentSpeech = append(agentSpeech, int16(v))
	}
	for _, c := range []struct {
		name string
		b    hushv1.PauseBehavior
	}{{"silence", hushv1.PauseBehavior_PAUSE_BEHAVIOR_SILENCE}, {"skip", hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cust := newEndpoint(t, "udp4", "127.0.0.1:0")
			agent := newEndpoint(t, "udp4", "127.0.0.1:0")
			c0 := time.Now()
			s, err := d.session.CreateSession(tctx(t), &hushv1.CreateSessionRequest{
				CallId: "pause-" + c.name, AgentId: "agent-2",
				Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
				Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
			})
			c1 := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			w := d.watch(s.SessionId)
			custPh := &phone{pt: 0, ssrc: 0x11, seq: 7, ts0: 123456}
			agentPh := &phone{pt: 0, ssrc: 0x22, seq: 9, ts0: 654321}
			var cw, aw wire
			cw = wire{from: cust, to: addrPort(s.Customer.LocalAddr)}
			aw = wire{from: agent, to: addrPort(s.Agent.LocalAddr)}
			for k := range slots {
				cw.pkts = append(cw.pkts, timed{k, custPh.audio(t, k*audioFrame, codedPayload(k))})
				aw.pkts = append(aw.pkts, timed{k, agentPh.audio(t, k*audioFrame, agentSpeech[k*audioFrame:(k+1)*audioFrame])})
			}
			p := pace([]wire{cw, aw}, pauseAt, resumeAt)

			state := func(st *hushv1.Session, err error, want hushv1.RecordingState, what string) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if st.RecordingState != want {
					t.Fatalf("%s: recording %v, want %v", what, st.RecordingState, want)
				}
			}
			pause := func(req string) (*hushv1.Session, error) {
				return d.session.PauseRecording(tctx(t), &hushv1.PauseRecordingRequest{
					SessionId: s.SessionId, RequestId: req, Behavior: c.b, Reason: "card payment"})
			}
			resume := func(req string) (*hushv1.Session, error) {
				return d.session.ResumeRecording(tctx(t), &hushv1.ResumeRecordingRequest{SessionId: s.SessionId, RequestId: req})
			}
			p.waitSlot(t, pauseAt)
			var st *hushv1.Session
			p0, p1 := rpcTime(t, "pause", func() (err error) { st, err = pause("p-1"); return err })
			state(st, nil, hushv1.RecordingState_RECORDING_STATE_PAUSED, "pause")
			st, err = pause("p-2") // paused already: no error, no change
			state(st, err, hushv1.RecordingState_RECORDING_STATE_PAUSED, "second pause")
			st, err = pause("p-1")
			state(st, err, hushv1.RecordingState_RECORDING_STATE_PAUSED, "repeated pause")

			p.waitSlot(t, resumeAt)
			r0, r1 := rpcTime(t, "resume", func() (err error) { st, err = resume("r-1"); return err })
			state(st, nil, hushv1.RecordingState_RECORDING_STATE_ACTIVE, "resume")
			st, err = resume("r-1")
			state(st, err, hushv1.RecordingState_RECORDING_STATE_ACTIVE, "repeated resume")
			// The first pause's request id again: answered from the first call, and nothing
			// happens to the recording.
			if _, err := pause("p-1"); err != nil {
				t.Fatalf("pause request repeated after the resume: %v", err)
			}
			st, err = d.session.GetSession(tctx(t), &hushv1.GetSessionRequest{SessionId: s.SessionId})
			state(st, err, hushv1.RecordingState_RECORDING_STATE_ACTIVE, "after repeating the pause request")

			p.wait(t, slots)
			e0 := time.Now()
			if _, err := d.session.DeleteSession(tctx(t), &hushv1.DeleteSessionRequest{SessionId: s.SessionId, RequestId: "del"}); err != nil {
				t.Fatal(err)
			}
			e1 := time.Now()

			var changes []hushv1.RecordingState
			w.until(func(e *hushv1.SessionEvent) bool {
				if r := e.GetRecording(); r != nil {
					changes = append(changes, r.State)
				}
				return e.GetEnded() != nil
			})
			if len(changes) != 2 || changes[0] != hushv1.RecordingState_RECORDING_STATE_PAUSED || changes[1] != hushv1.RecordingState_RECORDING_STATE_ACTIVE {
				t.Errorf("recording events %v, want one pause and one resume", changes)
			}

			rec, err := hushv1.NewRecordingServiceClient(d.conn).GetRecording(tctx(t), &hushv1.GetRecordingRequest{RecordingId: s.RecordingId})
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Pauses) != 1 || rec.Pauses[0].Behavior != c.b || rec.Pauses[0].Reason != "card payment" {
				t.Fatalf("sidecar pauses %v, want one %v", rec.Pauses, c.b)
			}
			span := rec.Pauses[0]
			path, raw := download(t, d, s.RecordingId, t.TempDir())
			f := checkStereo(t, path)
			chans, err := decodeWAV(raw, 2)
			if err != nil {
				t.Fatalf("go-audio/wav: %v", err)
			}
			idx := codedIndex(t, chans[0])
			anchor := -1 // file position of stream sample 0
			for q, v := range idx {
				if v >= 0 {
					anchor = q - v
					break
				}
			}
			if anchor < 0 {
				t.Fatal("no customer audio in the recording")
			}
			// Every customer sample in the file sits where the timeline puts it: the
			// sidecar's pause span [S, E) is silence (SILENCE) or left out (SKIP). Audio that
			// reached the recorder after its place was written (this test process stalled
			// past the 300 ms jitter window) is a hole of silence, counted as late packets;
			// nothing else may be missing.
			S, E := int(span.StartSample), int(span.EndSample)
			skip := c.b == hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP
			stream := func(f int) int { // stream sample expected at file position f
				if skip && f >= S {
					return f + E - S - anchor
				}
				return f - anchor
			}
			holes, holeSamples, misplaced := 0, 0, 0
			for f, v := range idx {
				switch want := stream(f); {
				case !skip && f >= S && f < E:
					if chans[0][f] != 0 || chans[1][f] != 0 {
						t.Fatalf("sample %d inside the pause (%d..%d) is not silent", f, S, E)
					}
				case v == want:
				case v < 0 && want >= 0 && want < slots*audioFrame:
					holeSamples++
					if f == 0 || idx[f-1] >= 0 || !skip && f == E {
						holes++
					}
				case v < 0:
				default:
					if misplaced++; misplaced == 1 {
						t.Errorf("file sample %d holds stream sample %d, want %d (pause %d..%d, audio from %d)", f, v, want, S, E, anchor)
					}
				}
			}
			if late := int(rec.CustomerLatePackets); holeSamples > late*audioFrame {
				t.Errorf("%d samples of the customer's audio missing outside the pause (holes: %d), with %d late packets", holeSamples, holes, late)
			}
			if misplaced > 0 {
				t.Errorf("%d samples misplaced", misplaced)
			}
			callDur := mid(e0, e1).Sub(mid(c0, c1))
			wavDur := time.Duration(f.samples) * time.Second / audioRate
			pausedFor := mid(r0, r1).Sub(mid(p0, p1))
			want := callDur
			// The file runs to the session's end: after the last audio, as much silence as
			// passed between that audio's place (the stream is anchored at the first
			// packet's arrival, p.late[0] after it was due) and the delete. SKIP leaves the
			// pause out of both.
			end := anchor + slots*audioFrame
			if skip {
				end -= E - S
				want -= pausedFor
			}
			audioEnd := p.start.Add(p.late[0] + time.Duration(slots)*audioPtime)
			gap := float64(mid(e0, e1).Sub(audioEnd)) / float64(time.Second/audioRate)
			slack := 2*audioFrame + float64(e1.Sub(e0)/2)/float64(time.Second/audioRate)
			if tail := float64(int(f.samples) - end); tail < 0 || math.Abs(tail-gap) > slack {
				t.Errorf("the WAV has %d samples, the audio ends at %d: want %.0f (+-%.0f) after it, the time to the delete",
					f.samples, end, gap, slack)
			}
			// The recording places the customer's audio from the arrival of the first
			// packet: a pacer late with it moves the whole stream that much later.
			lead := float64(p.late[0]) / float64(time.Second/audioRate)
			errPause := (float64(S-anchor) - p.sampleAt(mid(p0, p1)) + lead) / audioPerMs
			errResume := (float64(E-anchor) - p.sampleAt(mid(r0, r1)) + lead) / audioPerMs
			for _, e := range []struct {
				what string
				ms   float64
				rpc  time.Duration
			}{{"pause", errPause, p1.Sub(p0)}, {"resume", errResume, r1.Sub(r0)}} {
				if lim := float64(audioPtime+e.rpc/2) / 1e6; math.Abs(e.ms) > lim {
					t.Errorf("%s lands %+.1f ms from the audio being sent when the RPC arrived (limit %.1f ms; first packet sent %v late)", e.what, e.ms, lim, p.late[0])
				}
			}
			t.Logf("%s: pause boundary %+.1f ms, resume boundary %+.1f ms from the audio sent at the RPC (RPCs took %v, %v); WAV %.3f s, call %.3f s, paused %.3f s, expected WAV %.3f s (diff %+.1f ms)",
				c.name, errPause, errResume, p1.Sub(p0).Round(time.Microsecond), r1.Sub(r0).Round(time.Microsecond),
				wavDur.Seconds(), callDur.Seconds(), pausedFor.Seconds(), want.Seconds(), float64(wavDur-want)/1e6)
		})
	}
}

// TestRecordingDiskFull: the recording directory is a 32 KB tmpfs, so the first second of
// audio does not fit. The recording fails (RecordingFailed event, RECORDING_STATE_FAILED,
// hush_recording_failures_total 1) and the call goes on: every packet, before and after,
// is forwarded both ways, byte for byte toward the customer and with the same header and
// length toward the agent (masked by default: the notch may touch its noise payloads). Needs mount privileges (root with CAP_SYS_ADMIN);
// internal/session's TestRecordingFaultKeepsCall covers the same without them.
func TestRecordingDiskFull(t *testing.T) {
	t.Parallel()
	mnt := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(mnt, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=32k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (%v): needs root with CAP_SYS_ADMIN; the session-level fault test covers this", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	// Plain WAV: the sizes compared below are those of the file on the full disk (a
	// sealed file is larger on disk than the WAV it holds).
	d := recordingDaemon(t, mnt, "--recording-encrypt=false")
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "disk-full",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	const slots = 200
	fromCust, fromAgent := newStream(21), newStream(22)
	cw := wire{from: cust, to: addrPort(s.Customer.LocalAddr)}
	aw := wire{from: agent, to: addrPort(s.Agent.LocalAddr)}
	for k := range slots {
		cw.pkts = append(cw.pkts, timed{k, fromCust.next(t)})
		aw.pkts = append(aw.pkts, timed{k, fromAgent.next(t)})
	}
	// Each phone reads what hush forwards to it and checks it, in order, byte for byte.
	type tally struct {
		n   int
		err error
	}
	check := func(e *endpoint, want []timed, headerOnly bool, out chan<- tally) {
		buf := make([]byte, 2048)
		var tl tally
		defer func() { out <- tl }()
		for tl.n < len(want) {
			_ = e.conn.SetReadDeadline(time.Now().Add(wait))
			n, _, err := e.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				tl.err = err
				return
			}
			w := want[tl.n].pkt
			if headerOnly && (n != len(w) || !bytes.Equal(buf[:12], w[:12])) || !headerOnly && !bytes.Equal(buf[:n], w) {
				tl.err = fmt.Errorf("packet %d differs", tl.n)
				return
			}
			tl.n++
		}
	}
	toAgent, toCust := make(chan tally, 1), make(chan tally, 1)
	go check(agent, cw.pkts, true, toAgent)
	go check(cust, aw.pkts, false, toCust)
	p := pace([]wire{cw, aw})

	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetRecordingFailed() != nil })
	failedAt := p.slot.Load()
	if reason := ev.GetRecordingFailed().Reason; reason == "" {
		t.Error("RecordingFailed has no reason")
	}
	got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if err != nil || got.RecordingState != hushv1.RecordingState_RECORDING_STATE_FAILED {
		t.Fatalf("after the failure: %v %v", got.GetRecordingState(), err)
	}
	if failedAt > slots-25 {
		t.Fatalf("the recording failed only at packet %d of %d: too late to see the call go on", failedAt, slots)
	}
	// QA sees it failed, with the size the file has on disk, while the call goes on (the
	// sidecar could not be rewritten: the disk is full).
	wavs, _ := filepath.Glob(filepath.Join(mnt, "*", "*", "*", s.RecordingId+".wav"))
	if len(wavs) != 1 {
		t.Fatalf("recording files %v", wavs)
	}
	st, err := os.Stat(wavs[0])
	if err != nil {
		t.Fatal(err)
	}
	recs := hushv1.NewRecordingServiceClient(d.conn)
	rec, err := recs.GetRecording(d.ctx(), &hushv1.GetRecordingRequest{RecordingId: s.RecordingId})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != hushv1.RecordingStatus_RECORDING_STATUS_FAILED || rec.SizeBytes != uint64(st.Size()) || rec.Failure == "" {
		t.Errorf("GetRecording during the call: status %v, size %d (file %d bytes), failure %q; want FAILED with the file's size and why",
			rec.Status, rec.SizeBytes, st.Size(), rec.Failure)
	}
	list, err := recs.ListRecordings(d.ctx(), &hushv1.ListRecordingsRequest{CallId: "disk-full"})
	if err != nil || len(list.Recordings) != 1 || list.Recordings[0].Status != hushv1.RecordingStatus_RECORDING_STATUS_FAILED {
		t.Errorf("ListRecordings during the call: %v, %v", list, err)
	}
	p.wait(t, slots)
	for name, ch := range map[string]chan tally{"customer->agent": toAgent, "agent->customer": toCust} {
		select {
		case tl := <-ch:
			if tl.err != nil || tl.n != slots {
				t.Errorf("%s: %d of %d packets forwarded: %v", name, tl.n, slots, tl.err)
			}
		case <-time.After(2 * wait):
			t.Fatalf("%s: receiver stuck", name)
		}
	}
	if v := d.metric("hush_recording_failures_total"); v != 1 {
		t.Errorf("hush_recording_failures_total = %v, want 1", v)
	}
	if _, err := d.session.PauseRecording(d.ctx(), &hushv1.PauseRecordingRequest{SessionId: s.SessionId, RequestId: "p"}); err == nil {
		t.Error("pausing a failed recording succeeded")
	}
	t.Logf("recording failed at packet %d of %d (%s); %d packets each way forwarded before and after",
		failedAt, slots, ev.GetRecordingFailed().Reason, slots)
}

// TestRecordingTimelineMatchesCall: the recording's timeline is the call's wall clock.
// Position 0 is when the session was created (the sidecar's start time), so audio sent at
// wall time T sits at (T - start) * 8000 within a packet, a SILENCE recording is as long
// as the call (create to delete) within 2 packets, and the sidecar's pause span starts and
// ends within a packet of the wall-clock arrival of the pause and resume RPCs.
func TestRecordingTimelineMatchesCall(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "soxi", "sox")
	d := recordingDaemon(t, filepath.Join(t.TempDir(), "recordings"))
	const slots, pauseAt, resumeAt = 60, 20, 40
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	c0 := time.Now()
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "timeline",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
	})
	c1 := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	custPh, agentPh := &phone{pt: 0, ssrc: 0x31, ts0: 77}, &phone{pt: 0, ssrc: 0x32, ts0: 99}
	cw := wire{from: cust, to: addrPort(s.Customer.LocalAddr)}
	aw := wire{from: agent, to: addrPort(s.Agent.LocalAddr)}
	for k := range slots {
		cw.pkts = append(cw.pkts, timed{k, custPh.audio(t, k*audioFrame, codedPayload(k))})
		aw.pkts = append(aw.pkts, timed{k, agentPh.audio(t, k*audioFrame, codedPayload(k))})
	}
	p := pace([]wire{cw, aw}, pauseAt, resumeAt)
	p.waitSlot(t, pauseAt)
	p0, p1 := rpcTime(t, "pause", func() error {
		_, err := d.session.PauseRecording(d.ctx(), &hushv1.PauseRecordingRequest{SessionId: s.SessionId, RequestId: "p"})
		return err
	})
	p.waitSlot(t, resumeAt)
	r0, r1 := rpcTime(t, "resume", func() error {
		_, err := d.session.ResumeRecording(d.ctx(), &hushv1.ResumeRecordingRequest{SessionId: s.SessionId, RequestId: "r"})
		return err
	})
	p.wait(t, slots)
	e0, e1 := rpcTime(t, "delete", func() error {
		_, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: s.SessionId, RequestId: "d"})
		return err
	})
	rec, err := hushv1.NewRecordingServiceClient(d.conn).GetRecording(d.ctx(), &hushv1.GetRecordingRequest{RecordingId: s.RecordingId})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Pauses) != 1 {
		t.Fatalf("pauses %v", rec.Pauses)
	}
	// The recording's late packets (0 unless this process stalled past the jitter window)
	// are what /metrics counts for the one recording this hushd made.
	for leg, n := range map[string]uint64{"customer": rec.CustomerLatePackets, "agent": rec.AgentLatePackets} {
		if m := d.metric(`hush_recording_late_packets_total{leg="` + leg + `"}`); m != float64(n) {
			t.Errorf("hush_recording_late_packets_total{leg=%q} = %v, the recording says %d", leg, m, n)
		}
	}
	path, raw := download(t, d, s.RecordingId, t.TempDir())
	f := checkStereo(t, path)
	chans, err := decodeWAV(raw, 2)
	if err != nil {
		t.Fatal(err)
	}
	start := rec.StartTime.AsTime()
	idx := codedIndex(t, chans[0])
	anchor := -1
	for q, n := range idx {
		if n >= 0 {
			anchor = q - n
			break
		}
	}
	if anchor < 0 {
		t.Fatal("no customer audio in the recording")
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	// Slot 0 was due at p.start and sent p.late[0] after: that is where its audio belongs
	// on the timeline.
	firstOff := ms(time.Duration(anchor)*time.Second/audioRate - p.start.Add(p.late[0]).Sub(start))
	wavDur := time.Duration(f.samples) * time.Second / audioRate
	call := mid(e0, e1).Sub(mid(c0, c1))
	pauseOff := ms(rec.Pauses[0].StartTime.AsTime().Sub(mid(p0, p1)))
	resumeOff := ms(rec.Pauses[0].EndTime.AsTime().Sub(mid(r0, r1)))
	t.Logf("first audio %+.1f ms from when it was sent; WAV %.3f s, call %.3f s (diff %+.1f ms); sidecar pause start %+.1f ms, end %+.1f ms from the RPCs",
		firstOff, wavDur.Seconds(), call.Seconds(), ms(wavDur-call), pauseOff, resumeOff)
	if lim := ms(audioPtime + c1.Sub(c0)/2); math.Abs(firstOff) > lim {
		t.Errorf("the customer's first packet is recorded %+.1f ms from when it was sent (limit %.1f ms)", firstOff, lim)
	}
	// The WAV ends with the last audio, up to a packet after it; the delete follows the last
	// send on a loaded machine by a scheduling delay: allow four packet times in all.
	if lim := ms(4*audioPtime + (c1.Sub(c0)+e1.Sub(e0))/2); math.Abs(ms(wavDur-call)) > lim {
		t.Errorf("WAV %v, call %v: %+.1f ms apart (limit %.1f ms)", wavDur, call, ms(wavDur-call), lim)
	}
	if lim := ms(audioPtime + p1.Sub(p0)/2); math.Abs(pauseOff) > lim {
		t.Errorf("sidecar pause starts %+.1f ms from the PauseRecording RPC (limit %.1f ms)", pauseOff, lim)
	}
	if lim := ms(audioPtime + r1.Sub(r0)/2); math.Abs(resumeOff) > lim {
		t.Errorf("sidecar pause ends %+.1f ms from the ResumeRecording RPC (limit %.1f ms)", resumeOff, lim)
	}
}

// zeroRun returns the length of the run of zero samples around ch[i].
func zeroRun(ch []int16, i int) int {
	a, b := i, i
	for a > 0 && ch[a-1] == 0 {
		a--
	}
	for b < len(ch) && ch[b] == 0 {
		b++
	}
	return b - a
}

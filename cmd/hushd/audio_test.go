package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// Audio helpers for the end-to-end masking and capture tests: DTMF bursts, real speech,
// G.711 RTP, RFC 4733 events, a real-time paced sender, a receiver that stamps arrivals,
// WAV files and the multimon-ng judge. (The media packages have their own; test code
// cannot be imported across packages.)

const (
	audioRate  = 8000
	audioPerMs = audioRate / 1000
	audioFrame = 160 // samples in one 20 ms packet
	audioPtime = 20 * time.Millisecond

	audioPCMU = 0
	audioPCMA = 8
)

// allKeys is every DTMF key.
const allKeys = "123A456B789C*0#D"

// keyBurst is one key press on the sample timeline: dur samples from at, dbm0 per tone
// (0 dBm0 = a sine of peak g711.Peak0dBm0).
type keyBurst struct {
	key     byte
	at, dur int
	dbm0    float64
}

func (b keyBurst) addTo(sig []float64, r *rand.Rand) {
	dtmftest.Burst{Key: b.key, At: b.at, Dur: b.dur, DBm0: b.dbm0}.AddTo(sig, r)
}

// near reports whether sample j is within the guard around a burst: one packet before
// its onset to 40 ms after its end. Masking may touch only these samples.
func (b keyBurst) near(j int) bool { return j >= b.at-audioFrame && j < b.at+b.dur+40*audioPerMs }

// speechWithBursts lays speech under bursts, kept 20 ms clear of every keyBurst (multimon-ng
// itself misses keys that touch speech), and quantizes to 16 bits.
func speechWithBursts(speech []float64, bursts []keyBurst, r *rand.Rand) []int16 {
	sig := make([]float64, len(speech))
	for j := range sig {
		clear := true
		for _, b := range bursts {
			clear = clear && (j < b.at-20*audioPerMs || j >= b.at+b.dur+20*audioPerMs)
		}
		if clear {
			sig[j] = speech[j]
		}
	}
	for _, b := range bursts {
		b.addTo(sig, r)
	}
	out := make([]int16, len(sig))
	for i, v := range sig {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// needDebianTool returns the path of a Debian tool, skipping the test when it is missing
// (failing when CI=true).
func needDebianTool(t *testing.T, name, pkg string) string {
	t.Helper()
	return dtmftest.Tool(t, name, pkg)
}

// promptSpeech returns n samples of the speech corpus (media/corpus: the Asterisk English
// prompts end to end), starting skip samples in; it skips the test (fails it in CI) when
// the corpus is not installed.
func promptSpeech(t *testing.T, n, skip int) []float64 { return dtmftest.Speech(t, n, skip) }

// readPCMWAV reads a 16-bit PCM WAV file, one slice per channel.
func readPCMWAV(path string) ([][]int16, error) { return dtmftest.ReadWAV(path) }

// judge writes pcm to dir/name.wav and returns the DTMF digits `multimon-ng -a DTMF -t
// wav` (Debian package multimon-ng), an independent decoder, finds in it.
func multimonDigits(t *testing.T, dir, name string, pcm []int16) string {
	t.Helper()
	return dtmftest.Judge(t, dir, name, pcm)
}

// stream builds one SSRC's RTP, in send order: G.711 audio and RFC 4733 events share the
// sequence numbers and the timestamp clock (RFC 4733 section 2.1). Packets are grouped
// into 20 ms ticks for the paced sender.
type phoneStream struct {
	pt, tePT uint8
	ssrc     uint32
	seq      uint16
	ts0      uint32
	ticks    [][][]byte
	audio    [][]byte // the audio packets, in order
}

func newPhoneStream(pt uint8, ssrc uint32, seq uint16, ts0 uint32) *phoneStream {
	return &phoneStream{pt: pt, tePT: 101, ssrc: ssrc, seq: seq, ts0: ts0}
}

// tick starts the next 20 ms tick; packets added go out together at it.
func (s *phoneStream) tick() { s.ticks = append(s.ticks, nil) }

func (s *phoneStream) add(h rtp.Header, payload []byte) []byte {
	h.Version, h.SSRC, h.SequenceNumber = 2, s.ssrc, s.seq
	s.seq++
	b := make([]byte, h.MarshalSize()+len(payload))
	n, _ := h.MarshalTo(b)
	copy(b[n:], payload)
	if len(s.ticks) == 0 {
		s.tick()
	}
	s.ticks[len(s.ticks)-1] = append(s.ticks[len(s.ticks)-1], b)
	return b
}

// audioAt adds the audio packet of pcm samples [at, at+audioFrame) of the stream's timeline.
func (s *phoneStream) audioAt(pcm []int16, at int) {
	pay := make([]byte, audioFrame)
	g711Encode(s.pt, pay, pcm[at:at+audioFrame])
	s.audio = append(s.audio, s.add(rtp.Header{PayloadType: s.pt, Timestamp: s.ts0 + uint32(at)}, pay))
}

// event adds an RFC 4733 telephone-event packet of an event that started at sample at.
func (s *phoneStream) event(at int, te dtmf.TelephoneEvent, marker bool) {
	pay, err := te.Marshal()
	if err != nil {
		panic(err)
	}
	s.add(rtp.Header{PayloadType: s.tePT, Timestamp: s.ts0 + uint32(at), Marker: marker}, pay)
}

// press returns the RFC 4733 events of one key press lasting dur samples, one per tick:
// durations grow by a packet, and the final one (E bit) goes three times (RFC 4733
// section 2.5.1.4).
func rfc4733Press(key byte, dur int) [][]dtmf.TelephoneEvent {
	ev, err := dtmf.DigitEvent(key)
	if err != nil {
		panic(err)
	}
	var out [][]dtmf.TelephoneEvent
	for d := audioFrame; ; d += audioFrame {
		te := dtmf.TelephoneEvent{Event: ev, Volume: 10, Duration: uint16(min(d, dur))}
		if d >= dur {
			te.End = true
			out = append(out, []dtmf.TelephoneEvent{te, te, te})
			return out
		}
		out = append(out, []dtmf.TelephoneEvent{te})
	}
}

func g711Encode(pt uint8, dst []byte, pcm []int16) {
	if pt == audioPCMA {
		g711.EncodeAlaw(dst, pcm)
	} else {
		g711.EncodeUlaw(dst, pcm)
	}
}

// packetize makes one 20 ms audio packet of pcm per tick.
func packetizeG711(pt uint8, ssrc uint32, seq uint16, ts0 uint32, pcm []int16) *phoneStream {
	s := newPhoneStream(pt, ssrc, seq, ts0)
	for at := 0; at+audioFrame <= len(pcm); at += audioFrame {
		s.tick()
		s.audioAt(pcm, at)
	}
	return s
}

// timeline decodes received G.711 audio onto the sender's sample timeline by RTP
// timestamp, so a lost packet is silence; other payload types are left out.
func decodeByTimestamp(pkts [][]byte, ts0 uint32, n int) []int16 {
	out := make([]int16, n)
	var h rtp.Header
	for _, p := range pkts {
		if _, err := h.Unmarshal(p); err != nil || (h.PayloadType != audioPCMU && h.PayloadType != audioPCMA) {
			continue
		}
		pay := h.Payload(p)
		at := int(int32(h.Timestamp - ts0))
		if at < 0 || at+len(pay) > n {
			continue
		}
		if h.PayloadType == audioPCMA {
			g711.DecodeAlaw(out[at:], pay)
		} else {
			g711.DecodeUlaw(out[at:], pay)
		}
	}
	return out
}

// rxPacket is a datagram and when it came.
type rxPacket struct {
	pkt []byte
	at  time.Time
}

// paceSend sends each tick's packets from conn to to, tick i at 20*(i+1) ms of real time, on a
// phone's clock (hush releases masked packets by the wall clock, so the pacing is the phone's). It
// returns the send time of every packet, in order.
func paceSend(ctx context.Context, conn *net.UDPConn, to string, ticks [][][]byte) ([]time.Time, error) {
	dst, err := netip.ParseAddrPort(to)
	if err != nil {
		return nil, err
	}
	clk := newPhoneClock(audioPtime)
	var sent []time.Time
	for i, pkts := range ticks {
		if !clk.wait(ctx.Done(), i+1) {
			return sent, ctx.Err()
		}
		for _, p := range pkts {
			if _, err := conn.WriteToUDPAddrPort(p, dst); err != nil {
				return sent, err
			}
			sent = append(sent, time.Now())
		}
	}
	return sent, nil
}

// receive reads from conn until last reports the packet just read was the last one, or
// the deadline. It runs on its own goroutine, so it returns errors instead of failing.
func receiveUntil(conn *net.UDPConn, deadline time.Time, last func([]byte) bool) ([]rxPacket, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	var got []rxPacket
	buf := make([]byte, 2048)
	for range 100000 {
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return got, fmt.Errorf("after %d packets: %w", len(got), err)
		}
		p := slices.Clone(buf[:n])
		got = append(got, rxPacket{pkt: p, at: time.Now()})
		if last(p) {
			return got, nil
		}
	}
	return got, errors.New("too many packets")
}

// rtpIs matches the RTP packet of an SSRC and sequence number.
func rtpIs(ssrc uint32, seq uint16) func([]byte) bool {
	return func(b []byte) bool {
		var h rtp.Header
		_, err := h.Unmarshal(b)
		return err == nil && h.SSRC == ssrc && h.SequenceNumber == seq
	}
}

func rtpHeaderOf(t *testing.T, b []byte) rtp.Header {
	t.Helper()
	var h rtp.Header
	if _, err := h.Unmarshal(b); err != nil {
		t.Fatalf("received a packet that is not RTP: %v", err)
	}
	return h
}

func datagrams(as []rxPacket) [][]byte {
	out := make([][]byte, len(as))
	for i, a := range as {
		out[i] = a.pkt
	}
	return out
}

// delays pairs sends and arrivals by sequence number: rxPacket minus send time.
func addedDelays(t *testing.T, sent [][]byte, sentAt []time.Time, got []rxPacket) []time.Duration {
	t.Helper()
	at := map[uint16]time.Time{}
	for i, p := range sent {
		at[rtpHeaderOf(t, p).SequenceNumber] = sentAt[i]
	}
	var out []time.Duration
	for _, a := range got {
		if s, ok := at[rtpHeaderOf(t, a.pkt).SequenceNumber]; ok {
			out = append(out, a.at.Sub(s))
		}
	}
	return out
}

func durQuantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// all returns every packet in send order.
func (s *phoneStream) all() [][]byte {
	var out [][]byte
	for _, tk := range s.ticks {
		out = append(out, tk...)
	}
	return out
}

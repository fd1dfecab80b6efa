package mask

import (
	"encoding/binary"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// Test signals and a fake-clock driver for the delay line.

const (
	rate    = 8000
	msS     = rate / 1000 // samples per millisecond
	frame   = 160
	frameDt = 20 * time.Millisecond
)

var keys = "123A456B789C*0#D"

// burst is one DTMF tone at sample position at, dur samples long.
type burst struct {
	key     byte
	at, dur int
	dbm0    float64 // per tone
}

func (b burst) add(sig []float64, r *rand.Rand) {
	dtmftest.Burst{Key: b.key, At: b.at, Dur: b.dur, DBm0: b.dbm0}.AddTo(sig, r)
}

func clip(sig []float64) []int16 { return dtmftest.Quantize(sig) }

// speech returns n samples of the speech corpus (media/corpus), or is Missing.
func speech(t testing.TB, n int) []float64 { return dtmftest.Speech(t, n, 0) }

// stream packetizes pcm into G.711 RTP packets of frame samples.
type stream struct {
	pt    uint8
	ssrc  uint32
	seq   uint16
	ts    uint32
	codec Codec
}

func (s *stream) packet(pcm []int16, marker bool) []byte {
	h := rtp.Header{Version: 2, PayloadType: s.pt, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc, Marker: marker}
	b := make([]byte, h.MarshalSize()+len(pcm))
	n, _ := h.MarshalTo(b)
	if s.codec == CodecPCMA {
		g711.EncodeAlaw(b[n:], pcm)
	} else {
		g711.EncodeUlaw(b[n:], pcm)
	}
	s.seq++
	s.ts += uint32(len(pcm))
	return b
}

func (s *stream) packets(pcm []int16) [][]byte {
	var out [][]byte
	for i := 0; i+frame <= len(pcm); i += frame {
		out = append(out, s.packet(pcm[i:i+frame], i == 0))
	}
	return out
}

// event builds an RFC 4733 packet.
func event(pt uint8, ssrc uint32, seq uint16, ts uint32, marker bool, ev uint8, end bool, dur uint16) []byte {
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker}
	b := make([]byte, h.MarshalSize()+4)
	n, _ := h.MarshalTo(b)
	b[n] = ev
	b[n+1] = 10
	if end {
		b[n+1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[n+2:], dur)
	return b
}

// timed is a packet with its arrival time.
type timed struct {
	at  time.Duration
	pkt []byte
}

// released is a packet the masker let out, with the times.
type released struct {
	at, arrival time.Duration
	pkt         []byte
}

// drive pushes the packets at their arrival times on a fake clock and pops
// every packet at the earliest time it is ready, as the relay engine does
// (wake at NextDue or the next arrival). It returns what left, in order,
// and the verdicts of the pushes.
func drive(t testing.TB, k *Masker, in []timed) (out []released, verdicts []Verdict) {
	t.Helper()
	arrivals := map[string]time.Duration{}
	var h rtp.Header
	pop := func(now time.Duration) {
		for range Slots + 1 {
			p, ok := k.Pop(now)
			if !ok {
				return
			}
			c := append([]byte(nil), p...)
			out = append(out, released{at: now, arrival: arrivals[string(c[:12])], pkt: c})
		}
	}
	for _, p := range in {
		// Wake-ups between arrivals.
		for range 4 * Slots {
			due, ok := k.NextDue()
			if !ok || due > p.at {
				break
			}
			pop(due)
		}
		if _, err := h.Unmarshal(p.pkt); err != nil {
			t.Fatal(err)
		}
		arrivals[string(p.pkt[:12])] = p.at
		verdicts = append(verdicts, k.Push(&h, p.pkt, p.at))
		pop(p.at)
	}
	for range 4 * Slots {
		due, ok := k.NextDue()
		if !ok {
			break
		}
		pop(due)
	}
	if k.Len() != 0 {
		t.Fatalf("%d packets left in the queue", k.Len())
	}
	return out, verdicts
}

// evenly gives packets arrival times every frameDt from start.
func evenly(pkts [][]byte, start time.Duration) []timed {
	out := make([]timed, len(pkts))
	for i, p := range pkts {
		out[i] = timed{at: start + time.Duration(i)*frameDt, pkt: p}
	}
	return out
}

// decode returns the linear PCM of the audio packets in order.
func decode(t testing.TB, pkts []released) []int16 {
	t.Helper()
	var pcm []int16
	var h rtp.Header
	for _, r := range pkts {
		if _, err := h.Unmarshal(r.pkt); err != nil {
			t.Fatal(err)
		}
		pay := h.Payload(r.pkt)
		buf := make([]int16, len(pay))
		if h.PayloadType == 8 {
			g711.DecodeAlaw(buf, pay)
		} else {
			g711.DecodeUlaw(buf, pay)
		}
		pcm = append(pcm, buf...)
	}
	return pcm
}

package relay

import (
	"math/rand/v2"
	"testing"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// Test signals for the masking tests: DTMF bursts, speech, G.711 RTP
// packets, WAV files and the multimon-ng judge.

const (
	sRate  = 8000
	sMs    = sRate / 1000
	sFrame = 160
)

var dtmfKeys = "123A456B789C*0#D"

// tone is a DTMF burst at sample at, dur samples, dbm0 per tone.
type tone struct {
	key     byte
	at, dur int
	dbm0    float64
}

func (b tone) add(sig []float64, r *rand.Rand) {
	dtmftest.Burst{Key: b.key, At: b.at, Dur: b.dur, DBm0: b.dbm0}.AddTo(sig, r)
}

func toPCM(sig []float64) []int16 { return dtmftest.Quantize(sig) }

// speechSignal returns n samples of the speech corpus (media/corpus), or is Missing.
func speechSignal(t testing.TB, n int) []float64 { return dtmftest.Speech(t, n, 0) }

// judge runs multimon-ng -a DTMF (Debian package multimon-ng) on pcm and
// returns the digits it reports.
func judge(t testing.TB, dir, name string, pcm []int16) string {
	t.Helper()
	return dtmftest.Judge(t, dir, name, pcm)
}

// g711Stream packetizes PCM as 20 ms G.711 RTP packets.
type g711Stream struct {
	pt   uint8 // 0 PCMU, 8 PCMA
	ssrc uint32
	seq  uint16
	ts   uint32
}

func (s *g711Stream) next(pcm []int16) []byte {
	h := rtp.Header{Version: 2, PayloadType: s.pt, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc}
	b := make([]byte, h.MarshalSize()+len(pcm))
	n, _ := h.MarshalTo(b)
	if s.pt == 8 {
		g711.EncodeAlaw(b[n:], pcm)
	} else {
		g711.EncodeUlaw(b[n:], pcm)
	}
	s.seq++
	s.ts += uint32(len(pcm))
	return b
}

func (s *g711Stream) all(pcm []int16) [][]byte {
	var out [][]byte
	for i := 0; i+sFrame <= len(pcm); i += sFrame {
		out = append(out, s.next(pcm[i:i+sFrame]))
	}
	return out
}

// pcmOf decodes the G.711 payloads of packets, in order.
func pcmOf(t testing.TB, pkts [][]byte) []int16 {
	t.Helper()
	var out []int16
	var h rtp.Header
	for _, p := range pkts {
		if _, err := h.Unmarshal(p); err != nil {
			t.Fatal(err)
		}
		pay := h.Payload(p)
		buf := make([]int16, len(pay))
		if h.PayloadType == 8 {
			g711.DecodeAlaw(buf, pay)
		} else {
			g711.DecodeUlaw(buf, pay)
		}
		out = append(out, buf...)
	}
	return out
}

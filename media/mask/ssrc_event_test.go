package mask

import (
	"testing"
	"time"

	"github.com/hushmedia/hush/media/rtp"
)

// ssrcCall builds a stream of audio, an RFC 4733 key (code ev) whose end
// packets are sent when ended, and audio again, on one SSRC from timestamp
// base; at is the arrival clock, shared by the streams of one call.
func ssrcCall(in []timed, at *time.Duration, ssrc, base uint32, ev uint8, ended bool, pcm []int16) []timed {
	const tePT = 101
	s := &stream{pt: 0, ssrc: ssrc, ts: base, seq: uint16(ssrc) * 1000}
	audio := func(n int) {
		for range n {
			in = append(in, timed{at: *at, pkt: s.packet(pcm, false)})
			*at += frameDt
		}
	}
	audio(10)
	start := s.ts
	for i := range 6 {
		end := ended && i == 5
		for r := 0; r < 1 || end && r < 3; r++ {
			in = append(in, timed{at: *at, pkt: event(tePT, ssrc, s.seq, start, i == 0, ev, end, uint16((i+1)*frame))})
			s.seq++
		}
		*at += frameDt
	}
	s.ts = start + 6*frame
	audio(10)
	return in
}

// A new SSRC's telephone-events are its own: a key on the new stream is
// captured even when its timestamps are below the old stream's (they are
// unrelated), where the tracker took it for a late packet of the old event.
func TestEventsOfNewSSRCCaptured(t *testing.T) {
	codecs := DefaultCodecs()
	codecs.Set(101, "telephone-event")
	var got []Digit
	k := New(WithDigits(func(d Digit) { got = append(got, d) }))
	k.Configure(Policy{Mode: ModeTone, Capture: true}, &codecs)
	silence := make([]int16, frame)
	var in []timed
	at := time.Duration(0)
	in = ssrcCall(in, &at, 7, 2_000_000, 5, true, silence)
	in = ssrcCall(in, &at, 8, 1000, 9, true, silence)
	drive(t, k, in)
	if len(got) != 2 || got[0].Digit != '5' || got[1].Digit != '9' || got[1].Source != SourceRFC4733 {
		t.Fatalf("captured %d digits, want the key of each SSRC, in order", len(got))
	}
}

// An event left open when its stream ends (its end packets lost with it)
// does not hold the tracker: the next SSRC's key is captured, and audio of
// the new stream neither ends nor extends the old event.
func TestOpenEventEndsWithItsSSRC(t *testing.T) {
	codecs := DefaultCodecs()
	codecs.Set(101, "telephone-event")
	var got []Digit
	k := New(WithDigits(func(d Digit) { got = append(got, d) }))
	k.Configure(Policy{Mode: ModeSilence, Capture: true}, &codecs)
	silence := make([]int16, frame)
	var in []timed
	at := time.Duration(0)
	in = ssrcCall(in, &at, 7, 2_000_000, 5, false, silence)
	in = ssrcCall(in, &at, 8, 1000, 9, true, silence)
	out, _ := drive(t, k, in)
	if len(got) != 2 || got[1].Source != SourceRFC4733 || got[1].RTPTimestamp != 1000+10*frame {
		t.Fatalf("captured %d digits, want the open key and the next SSRC's", len(got))
	}
	var h rtp.Header
	for _, o := range out {
		h.Unmarshal(o.pkt)
		if h.PayloadType != 0 {
			t.Fatalf("payload type %d left the masked direction", h.PayloadType)
		}
	}
}

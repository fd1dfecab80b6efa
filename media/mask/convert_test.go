package mask

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// TestEventsAsToneWhenAudioStops: a phone that stops its audio while a key
// is down and sends only RFC 4733 events. In ModeTone the listener gets
// audio packets of the masking tone for the event's stretch (the events'
// sequence numbers, contiguous timestamps, the audio payload type), so it
// hears that a key was pressed; no telephone-event leaves and the tone is
// no digit. In ModeSilence the events are only withheld.
func TestEventsAsToneWhenAudioStops(t *testing.T) {
	const tePT, ssrc = 101, 9
	codecs := DefaultCodecs()
	codecs.Set(tePT, "telephone-event")
	for _, mode := range []Mode{ModeTone, ModeSilence} {
		s := &stream{pt: 8, ssrc: ssrc, codec: CodecPCMA}
		var in []timed
		at := time.Duration(0)
		seq := uint16(0)
		audio := func(n int) {
			for range n {
				s.seq = seq
				in = append(in, timed{at: at, pkt: s.packet(make([]int16, frame), false)})
				seq++
				at += frameDt
			}
		}
		audio(10)
		start := s.ts
		// 10 event packets of 20 ms each (durations 160..1600), the last
		// sent three times (RFC 4733 §2.5.1.4); the audio timestamps skip
		// the event.
		for i := range 10 {
			end := i == 9
			for r := 0; r < 1 || end && r < 3; r++ {
				in = append(in, timed{at: at, pkt: event(tePT, ssrc, seq, start, i == 0, 5, end, uint16((i+1)*frame))})
				seq++
			}
			at += frameDt
		}
		s.ts = start + 10*frame
		audio(10)
		k := New()
		k.Configure(Policy{Mode: mode}, &codecs)
		out, _ := drive(t, k, in)
		var h rtp.Header
		next := uint32(0)
		synth := 0
		var pcm []int16
		for i, o := range out {
			h.Unmarshal(o.pkt)
			if h.PayloadType != 8 {
				t.Fatalf("%v: packet %d has payload type %d", mode, i, h.PayloadType)
			}
			if i > 0 && h.Timestamp != next && mode == ModeTone {
				t.Fatalf("%v: packet %d timestamp %d, want %d", mode, i, h.Timestamp, next)
			}
			next = h.Timestamp + uint32(len(h.Payload(o.pkt)))
			if int32(h.Timestamp-start) >= 0 && int32(h.Timestamp-(start+10*frame)) < 0 {
				synth++
				p := make([]int16, len(h.Payload(o.pkt)))
				g711.DecodeAlaw(p, h.Payload(o.pkt))
				pcm = append(pcm, p...)
			}
		}
		want := 0
		if mode == ModeTone {
			want = 10
		}
		if synth != want || len(out) != 20+want {
			t.Fatalf("%v: %d packets out, %d in the event's stretch, want %d", mode, len(out), synth, want)
		}
		if mode == ModeTone {
			if evs := dtmf.NewDetector().Process(pcm, nil); len(evs) != 0 {
				t.Fatalf("the stand-in tone looks like DTMF: %v", evs)
			}
			var energy float64
			for _, v := range pcm {
				energy += float64(v) * float64(v)
			}
			if energy == 0 {
				t.Fatal("the stand-in is silent")
			}
			if st := k.Stats(); st.Converted != 10 || st.Superseded != 0 {
				t.Fatalf("%+v", st)
			}
		}
	}
}

// TestConvertAllocs: the event-to-tone path allocates nothing.
func TestConvertAllocs(t *testing.T) {
	const tePT = 101
	codecs := DefaultCodecs()
	codecs.Set(tePT, "telephone-event")
	k := New()
	k.Configure(Policy{Mode: ModeTone}, &codecs)
	s := &stream{pt: 0, ssrc: 3, codec: CodecPCMU}
	audio := s.packet(make([]int16, frame), false)
	ev := event(tePT, 3, 0, 0, true, 5, false, frame)
	var h rtp.Header
	now := time.Duration(0)
	i := uint32(0)
	step := func() {
		// One audio packet, then one event packet that extends an event
		// over the next stretch (no audio there: converted and sent).
		ts := i * 2 * frame
		for _, p := range [][]byte{audio, ev} {
			h.Unmarshal(p)
			h.Timestamp = ts
			h.SequenceNumber = uint16(i * 2)
			if p[1]&0x7f == tePT {
				h.SequenceNumber++
				h.Marker = true
				h.Timestamp = ts + frame
			}
			h.MarshalTo(p)
			k.Push(&h, p, now)
		}
		now += 2 * frameDt
		for {
			if _, ok := k.Pop(now + time.Second); !ok {
				break
			}
		}
		i++
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(300, step); a != 0 {
		t.Fatalf("%v allocations per step", a)
	}
	if k.Stats().Converted == 0 {
		t.Fatal("nothing converted")
	}
}

// TestEventsAheadOfLateAudio: a phone that sends audio (silence) while a key
// is down and RFC 4733 events whose durations run ahead of that audio (as
// sip-tester's captures do: 40 ms of event per 20 ms packet), and its audio
// after the events comes 50 ms late (a path delay change, well within
// StallGrace). The stand-in for the events' last stretch is decided by the
// audio that covers it, however late the event packet's arrival makes it
// look: the listener gets every audio packet once and no stand-in tone.
func TestEventsAheadOfLateAudio(t *testing.T) {
	const tePT, ssrc, press = 101, 7, 10 // the key goes down at tick press
	const late = 50 * time.Millisecond
	codecs := DefaultCodecs()
	codecs.Set(tePT, "telephone-event")
	s := &stream{pt: 0, ssrc: ssrc, codec: CodecPCMU}
	var in []timed
	seq := uint16(0)
	audio := 0
	for i := range press + 30 {
		at := time.Duration(i) * frameDt
		if i > press+7 {
			at += late
		}
		s.seq = seq
		in = append(in, timed{at: at, pkt: s.packet(make([]int16, frame), false)})
		seq++
		audio++
		if k := i - press; k >= 0 && k <= 7 {
			dur := uint16(max(2*k*frame, frame))
			for r := 0; r < 1 || k == 7 && r < 3; r++ {
				in = append(in, timed{at: at, pkt: event(tePT, ssrc, seq, press*frame, k == 0, 5, k == 7, dur)})
				seq++
			}
		}
	}
	slices.SortStableFunc(in, func(a, b timed) int { return cmp.Compare(a.at, b.at) })
	k := New()
	k.Configure(Policy{Mode: ModeTone}, &codecs)
	out, _ := drive(t, k, in)
	seen := map[uint16]int{}
	var h rtp.Header
	for _, o := range out {
		h.Unmarshal(o.pkt)
		if h.PayloadType != 0 {
			t.Fatalf("payload type %d left", h.PayloadType)
		}
		seen[h.SequenceNumber]++
	}
	if st := k.Stats(); st.Converted != 0 || len(out) != audio || len(seen) != audio {
		t.Fatalf("%d packets left (%d distinct) for %d audio packets; %d stand-ins sent where audio came, %d withheld",
			len(out), len(seen), audio, st.Converted, st.Superseded)
	}
}

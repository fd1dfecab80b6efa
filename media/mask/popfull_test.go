package mask

import (
	"testing"
	"time"

	"github.com/hushmedia/hush/media/rtp"
)

// TestPopFullFailsClosed: PopFull never lets out a packet the detector has
// not decided about. A phone sends audio, then only RFC 4733 events (tone
// stand-ins, which the detector does not analyse); an engine that has not
// caught up releases only decided packets, so the queue fills with the
// last two audio packets (undecided: nothing came after them) and the
// stand-ins. PopFull refuses the front, and the next packet is dropped
// (DropOverflow): nothing leaves unanalysed.
func TestPopFullFailsClosed(t *testing.T) {
	const tePT, ssrc = 101, 5
	codecs := DefaultCodecs()
	codecs.Set(tePT, "telephone-event")
	k := New()
	k.Configure(Policy{Mode: ModeTone}, &codecs)
	s := &stream{pt: 0, ssrc: ssrc, codec: CodecPCMU}
	var h rtp.Header
	now := time.Duration(0)
	push := func(p []byte) Verdict {
		if _, err := h.Unmarshal(p); err != nil {
			t.Fatal(err)
		}
		v := k.Push(&h, p, now)
		for range Slots {
			if _, ok := k.PopDecided(now); !ok {
				break
			}
		}
		now += frameDt
		return v
	}
	for range 10 {
		s.seq++
		push(s.packet(make([]int16, frame), false))
	}
	start := s.ts
	for i := 0; k.Len() < Slots && i < 2*Slots; i++ {
		s.seq++
		push(event(tePT, ssrc, s.seq, start, i == 0, 5, false, uint16((i+1)*frame)))
	}
	if k.Len() != Slots {
		t.Fatalf("queue holds %d, want it full (%d)", k.Len(), Slots)
	}
	if _, decided, _ := k.FrontDue(); decided {
		t.Fatal("the oldest packet is decided")
	}
	if p, ok := k.PopFull(); ok {
		t.Fatalf("PopFull let out an undecided packet (%d octets)", len(p))
	}
	s.seq++
	s.ts = start + 40*frame
	if v := push(s.packet(make([]int16, frame), false)); v != DropOverflow {
		t.Fatalf("verdict %v, want %v", v, DropOverflow)
	}
}

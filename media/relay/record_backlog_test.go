package relay

import (
	"testing"
	"time"

	"github.com/hushmedia/hush/media/mask"
)

// arrivalSink keeps the arrival of each recorded frame, by RTP timestamp.
type arrivalSink map[uint32]time.Time

func (s arrivalSink) RecordAudio(_ Leg, _, ts uint32, at time.Time, _ *mask.RecordFrame) { s[ts] = at }

// TestRecordBacklogArrival: packets that waited unread in the socket (hush stalled, the
// phone did not) reach the recording with the kernel's receive time, so the recorder
// places them where they were said and keeps them, though the masker's due times believe
// only 100 ms of that wait. Masked and unmasked (recorded only) directions alike; an age
// past a second is believed up to a second (a stepped wall clock misplaces little).
func TestRecordBacklogArrival(t *testing.T) {
	const frame = 20 * time.Millisecond
	pkts := (&g711Stream{pt: 0, ssrc: 5}).all(make([]int16, 40*sFrame))
	for _, masked := range []bool{true, false} {
		sink := arrivalSink{}
		g := newStaleRig(t, WithMaxQueueDelay(0), WithRecordTap(RecordTap{Sink: sink}))
		if masked {
			if err := g.c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone}); err != nil {
				t.Fatal(err)
			}
		}
		// Packets 0..9 on time; 10..29 sit unread until packet 29 arrives (580 ms);
		// 30..38 on time; the last is read 3 s after it arrived.
		want := map[uint32]time.Duration{}
		for k := range pkts {
			arrival := time.Duration(k) * frame
			ts := uint32(k * sFrame)
			switch {
			case k < 10 || k >= 30 && k < len(pkts)-1:
				g.advance(arrival)
				g.read(pkts[k], 0)
				want[ts] = arrival
			case k < 29: // read with 29
			case k == 29:
				g.advance(arrival)
				for j := 10; j <= 29; j++ {
					g.read(pkts[j], g.now-time.Duration(j)*frame)
					want[uint32(j*sFrame)] = time.Duration(j) * frame
				}
			default:
				g.advance(arrival + 3*time.Second)
				g.read(pkts[k], 3*time.Second)
				want[ts] = g.now - maxRecordAge
			}
		}
		g.advance(g.now + time.Second)
		g.r.Close()
		for ts, at := range want {
			got, ok := sink[ts]
			if !ok {
				t.Errorf("masked %v: the frame at timestamp %d was not recorded", masked, ts)
				continue
			}
			if d := got.Sub(g.c.epoch); d != at {
				t.Errorf("masked %v: the frame at timestamp %d arrived at %v, recorded as %v", masked, ts, at, d)
			}
		}
	}
}

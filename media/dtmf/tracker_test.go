package dtmf

import (
	"errors"
	"testing"
)

// pkt is one telephone-event packet for the tracker tests.
type pkt struct {
	ts     uint32
	marker bool
	seq    uint16
	ev     TelephoneEvent
}

func payload(t testing.TB, ev TelephoneEvent) []byte {
	b, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventPackets builds what a sender emits for one event of total duration
// dur starting at ts: an update every 160 units, marker on the first, and
// the final packet three times (RFC 4733 §2.5.1.4).
func eventPackets(ts uint32, seq uint16, event uint8, dur uint16) []pkt {
	var out []pkt
	for d := uint16(160); d < dur; d += 160 {
		out = append(out, pkt{ts, d == 160, seq, TelephoneEvent{Event: event, Volume: 10, Duration: d}})
		seq++
	}
	for range 3 {
		out = append(out, pkt{ts, false, seq, TelephoneEvent{Event: event, End: true, Volume: 10, Duration: dur}})
		seq++
	}
	return out
}

func feed(t *testing.T, tr *EventTracker, ps []pkt) []Span {
	t.Helper()
	var all []Span
	for _, p := range ps {
		var err error
		all, err = tr.Push(all, p.ts, p.marker, p.seq, payload(t, p.ev))
		if err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func countNew(spans []Span) (news, ends int) {
	for _, s := range spans {
		if s.New {
			news++
		}
		if s.Ended {
			ends++
		}
	}
	return
}

func TestTrackerOneEvent(t *testing.T) {
	tr := NewEventTracker(0)
	spans := feed(t, tr, eventPackets(1000, 1, 5, 800))
	news, ends := countNew(spans)
	if news != 1 || ends != 1 {
		t.Fatalf("news=%d ends=%d spans=%+v", news, ends, spans)
	}
	first, last := spans[0], spans[len(spans)-1]
	if first.Digit != '5' || first.Start != 1000 || first.Duration != 160 || !first.New {
		t.Fatalf("first span %+v", first)
	}
	if !last.Ended || last.Duration != 800 || last.End() != 1800 || last.TimedOut {
		t.Fatalf("last span %+v", last)
	}
	if tr.Stale() != 2 {
		t.Fatalf("the two end retransmissions should count as stale, got %d", tr.Stale())
	}
}

func TestTrackerSequenceOfDigits(t *testing.T) {
	tr := NewEventTracker(0)
	var ps []pkt
	ts, seq := uint32(0xFFFFF000), uint16(65530) // both wrap during the test
	for _, e := range []uint8{4, 1, 1, 11, 15} {
		ps = append(ps, eventPackets(ts, seq, e, 640)...)
		ts += 1600
		seq += 7
	}
	spans := feed(t, tr, ps)
	var got []byte
	for _, s := range spans {
		if s.New {
			got = append(got, s.Digit)
		}
	}
	if string(got) != "411#D" {
		t.Fatalf("digits %q", got)
	}
	if _, ends := countNew(spans); ends != 5 {
		t.Fatalf("ends = %d", ends)
	}
}

func TestTrackerLostEnd(t *testing.T) {
	tr := NewEventTracker(800)
	ps := eventPackets(5000, 10, 3, 800)
	spans := feed(t, tr, ps[:3]) // durations 160..480, no end packet
	if spans[len(spans)-1].Ended {
		t.Fatal("ended too early")
	}
	if s := tr.Advance(nil, 5000+480+800); len(s) != 0 {
		t.Fatalf("timed out at the limit: %+v", s)
	}
	s := tr.Advance(nil, 5000+480+801)
	if len(s) != 1 || !s[0].Ended || !s[0].TimedOut || s[0].Duration != 480 || s[0].New {
		t.Fatalf("timeout span %+v", s)
	}
	if s := tr.Advance(nil, 99999); len(s) != 0 {
		t.Fatalf("ended twice: %+v", s)
	}
	// A late update still extends the span so the masker can cover it, but
	// never reports the digit again.
	late, _ := tr.Push(nil, 5000, false, 14, payload(t, TelephoneEvent{Event: 3, Duration: 640}))
	if len(late) != 1 || late[0].New || late[0].Duration != 640 {
		t.Fatalf("late update %+v", late)
	}
}

func TestTrackerNewEventEndsOld(t *testing.T) {
	tr := NewEventTracker(0)
	a := eventPackets(0, 1, 1, 800)[:2] // end lost
	b := eventPackets(2000, 20, 2, 480)
	spans := feed(t, tr, append(a, b...))
	var order []string
	for _, s := range spans {
		switch {
		case s.New:
			order = append(order, "new"+string(s.Digit))
		case s.Ended:
			order = append(order, "end"+string(s.Digit))
		}
	}
	want := []string{"new1", "end1", "new2", "end2"}
	if len(order) != len(want) {
		t.Fatalf("order %v", order)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestTrackerReordering(t *testing.T) {
	tr := NewEventTracker(0)
	ps := eventPackets(100, 1, 9, 800)
	// Swap updates 2 and 3 (durations 320, 480).
	ps[1], ps[2] = ps[2], ps[1]
	spans := feed(t, tr, ps)
	for i := 1; i < len(spans); i++ {
		if spans[i].Duration < spans[i-1].Duration {
			t.Fatalf("duration went back: %+v", spans)
		}
	}
	// A late packet of this event after the next one started is ignored.
	next := eventPackets(3000, 50, 8, 480)
	spans = feed(t, tr, next[:1])
	before := tr.Stale()
	late, err := tr.Push(nil, 100, false, 3, payload(t, TelephoneEvent{Event: 9, End: true, Duration: 800}))
	if err != nil || len(late) != 0 || tr.Stale() != before+1 {
		t.Fatalf("late packet: %+v %v stale=%d", late, err, tr.Stale())
	}
	if cur, ok := tr.Current(); !ok || cur.Digit != '8' || cur.Ended {
		t.Fatalf("current %+v", cur)
	}
	_ = spans
}

func TestTrackerOnlyEndPacketsArrive(t *testing.T) {
	tr := NewEventTracker(0)
	ps := eventPackets(700, 1, 0, 800)
	spans := feed(t, tr, ps[len(ps)-3:])
	if len(spans) != 1 || !spans[0].New || !spans[0].Ended || spans[0].Digit != '0' || spans[0].Duration != 800 {
		t.Fatalf("spans %+v", spans)
	}
}

func TestTrackerLongEvent(t *testing.T) {
	tr := NewEventTracker(0)
	const start = 4_000_000_000 // crosses the 32-bit wrap
	var ps []pkt
	seq := uint16(1)
	// Segment 1 runs to 0xFFFF, segment 2 starts at start+0xFFFF (§2.5.1.3).
	for d := 8000; d < 0xFFFF; d += 8000 {
		ps = append(ps, pkt{start, d == 8000, seq, TelephoneEvent{Event: 12, Duration: uint16(d)}})
		seq++
	}
	ps = append(ps, pkt{start, false, seq, TelephoneEvent{Event: 12, Duration: 0xFFFF}})
	seq++
	ps = append(ps, pkt{start + 0xFFFF, false, seq, TelephoneEvent{Event: 12, Duration: 4000}})
	seq++
	for range 3 {
		ps = append(ps, pkt{start + 0xFFFF, false, seq, TelephoneEvent{Event: 12, End: true, Duration: 9000}})
		seq++
	}
	for _, marked := range []bool{false, true} {
		ps[len(ps)-4].marker = marked // the second segment's first packet
		tr.Reset()
		spans := feed(t, tr, ps)
		news, ends := countNew(spans)
		last := spans[len(spans)-1]
		if news != 1 || ends != 1 || last.Start != start || last.Duration != 0xFFFF+9000 || last.Digit != 'A' {
			t.Fatalf("marker %v: news=%d ends=%d last=%+v", marked, news, ends, last)
		}
	}
}

func TestTrackerMarkerReusedTimestamp(t *testing.T) {
	tr := NewEventTracker(0)
	spans := feed(t, tr, eventPackets(500, 1, 7, 480))
	// Same timestamp, marker, newer sequence number: a second event.
	more := feed(t, tr, eventPackets(500, 10, 7, 480))
	if n, _ := countNew(append(spans, more...)); n != 2 {
		t.Fatalf("new events = %d", n)
	}
	// An old retransmission with the marker is not a new event.
	old, _ := tr.Push(nil, 500, true, 2, payload(t, TelephoneEvent{Event: 7, Duration: 160}))
	if len(old) != 0 {
		t.Fatalf("old marker packet made %+v", old)
	}
}

func TestTrackerUnknownEvent(t *testing.T) {
	tr := NewEventTracker(0)
	spans := feed(t, tr, eventPackets(0, 1, 66, 480))
	if spans[0].Digit != 0 || spans[0].Event != 66 || !spans[0].New {
		t.Fatalf("unknown event span %+v", spans[0])
	}
}

func TestTrackerBadPayload(t *testing.T) {
	tr := NewEventTracker(0)
	spans, err := tr.Push(make([]Span, 0, 2), 1, true, 1, []byte{1, 2})
	if !errors.Is(err, ErrShortPayload) || len(spans) != 0 {
		t.Fatalf("err=%v spans=%v", err, spans)
	}
	if _, ok := tr.Current(); ok {
		t.Fatal("bad payload started an event")
	}
	tr.Push(nil, 1, true, 1, []byte{1, 0, 0, 160})
	tr.Reset()
	if _, ok := tr.Current(); ok {
		t.Fatal("Reset kept the event")
	}
}

func TestTrackerAllocatesNothing(t *testing.T) {
	tr := NewEventTracker(0)
	ps := eventPackets(0, 1, 5, 800)
	pls := make([][]byte, len(ps))
	for i := range ps {
		pls[i] = payload(t, ps[i].ev)
	}
	spans := make([]Span, 0, 4)
	ts := uint32(0)
	allocs := testing.AllocsPerRun(50, func() {
		ts += 2000
		for i, p := range ps {
			spans, _ = tr.Push(spans[:0], ts, p.marker, p.seq+uint16(ts), pls[i])
		}
		spans = tr.Advance(spans[:0], ts+1000)
	})
	if allocs != 0 {
		t.Fatalf("allocs = %v", allocs)
	}
}

// FuzzEventTracker feeds arbitrary packet sequences: no panic, each event
// reported New at most once per start, never more than two spans a push.
func FuzzEventTracker(f *testing.F) {
	f.Add([]byte{0, 0, 1, 5, 10, 0, 160, 0, 0, 2, 5, 0x8A, 0, 200})
	f.Add([]byte{0xFF, 0xFF, 3, 1, 0, 0, 80, 0x00, 0x10, 4, 2, 0x80, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := NewEventTracker(0)
		spans := make([]Span, 0, 4)
		var seq uint16
		for len(data) >= 7 {
			ts := uint32(data[0])<<8 | uint32(data[1])
			marker := data[2]&1 != 0
			seq += uint16(data[2] >> 1)
			var err error
			spans, err = tr.Push(spans[:0], ts, marker, seq, data[3:7])
			if err != nil || len(spans) > 2 {
				t.Fatalf("err=%v spans=%d", err, len(spans))
			}
			if len(spans) == 2 && (!spans[0].Ended || !spans[1].New) {
				t.Fatalf("two spans must be old-ended + new: %+v", spans)
			}
			spans = tr.Advance(spans[:0], ts+uint32(data[2])*64)
			data = data[7:]
		}
		if _, err := tr.Push(spans[:0], 0, false, 0, data); len(data) < 4 && !errors.Is(err, ErrShortPayload) {
			t.Fatalf("short payload err %v", err)
		}
	})
}

// Restart (a new SSRC) ends the open event at its last known end and
// follows the new stream from scratch, whatever its timestamps.
func TestTrackerRestart(t *testing.T) {
	tr := NewEventTracker(0)
	feed(t, tr, eventPackets(2_000_000, 10, 3, 800)[:3]) // open, durations 160..480
	s := tr.Restart(nil)
	if len(s) != 1 || !s[0].Ended || !s[0].TimedOut || s[0].Start != 2_000_000 || s[0].Duration != 480 {
		t.Fatalf("restart span %+v", s)
	}
	if s := tr.Restart(nil); len(s) != 0 {
		t.Fatalf("second restart reported %+v", s)
	}
	// Older than the old stream's timestamps: new here, not stale.
	s, _ = tr.Push(nil, 1000, true, 5, payload(t, TelephoneEvent{Event: 7, Volume: 10, Duration: 160}))
	if len(s) != 1 || !s[0].New || s[0].Event != 7 || tr.Stale() != 0 {
		t.Fatalf("after restart %+v, stale %d", s, tr.Stale())
	}
}

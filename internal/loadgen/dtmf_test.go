package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
)

// TestToneBurstsAreDigits: each burst, decoded from G.711, is exactly its digit to hush's
// detector, and the quiet audio around it is no digit at all.
func TestToneBurstsAreDigits(t *testing.T) {
	tt := newToneTable()
	pcm := make([]int16, payloadLen)
	for d := range dtmfFreqs {
		det := dtmf.NewDetector()
		var evs []dtmf.Event
		feed := func(payload []byte) {
			g711.DecodeUlaw(pcm, payload)
			evs = det.Process(pcm, evs)
		}
		for range 10 {
			feed(quietPayload[:])
		}
		for fr := range toneFrames {
			feed(tt[d][fr][:])
		}
		for range 10 {
			feed(quietPayload[:])
		}
		var digits []byte
		for _, e := range evs {
			if e.Kind == dtmf.DigitStart {
				digits = append(digits, e.Digit)
			}
		}
		if len(digits) != 1 || digits[0] != toneDigits[d] {
			t.Fatalf("burst %d: detected %d digits (want exactly its own)", d, len(digits))
		}
	}
}

func TestToneSchedule(t *testing.T) {
	// Every 50 periods the next call (of 3) sends 5 tone frames on its customer stream.
	var got []int
	for p := 0; p < 200; p++ {
		for s := uint32(0); s < 6; s++ {
			if d, fr, ok := toneAt(s, p, 50, 3); ok {
				if fr != p%50 || int(s/2) != (p/50)%3 || d != (p/50)%10 {
					t.Fatalf("s=%d p=%d -> digit %d frame %d", s, p, d, fr)
				}
				got = append(got, p)
			}
		}
	}
	if len(got) != 4*toneFrames {
		t.Fatalf("%d tone packets", len(got))
	}
	if _, _, ok := toneAt(0, 0, 0, 3); ok {
		t.Fatal("tone without bursts configured")
	}
}

// TestRunDirectWithDTMF: tone packets are counted as DTMF, not loss and not latency.
func TestRunDirectWithDTMF(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, Direct{}, Config{Calls: 2, Duration: time.Second, Warmup: 100 * time.Millisecond,
		Sockets: 1, IdleSettle: time.Millisecond, DTMFEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.TonePackets != 5*toneFrames || res.Rewritten != 0 {
		t.Fatalf("lost %d tones %d rewritten %d", res.Lost, res.TonePackets, res.Rewritten)
	}
}

package mask

import (
	"testing"
	"time"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/rtp"
)

// TestSpeechOverMasking runs all the Asterisk English prompts (the top-level prompts
// of media/corpus, about 21 minutes of speech) through a masked
// direction and measures how much speech the mask replaces with no DTMF
// present: the cost of the mask's looser thresholds to the listener. It
// must stay a small fraction (under 0.5 %), and no digit may be captured.
func TestSpeechOverMasking(t *testing.T) {
	if testing.Short() {
		t.Skip("long corpus")
	}
	files, prompts := dtmftest.Prompts(t, corpus.Files)
	digits := 0
	k := New(WithDigits(func(Digit) { digits++ }))
	k.Configure(Policy{Mode: ModeSilence, Capture: true}, nil)
	s := &stream{pt: 0, ssrc: 1, codec: CodecPCMU}
	var h rtp.Header
	now := time.Duration(0)
	total, spans := 0, 0
	prev := uint64(0)
	for _, pcm := range prompts {
		for i := 0; i+frame <= len(pcm); i += frame {
			p := s.packet(pcm[i:i+frame], false)
			h.Unmarshal(p)
			k.Push(&h, p, now)
			for {
				if _, ok := k.Pop(now); !ok {
					break
				}
			}
			now += frameDt
			total += frame
		}
		if m := k.Stats().MaskedSamples; m > prev {
			spans++
			prev = m
		}
	}
	for {
		if _, ok := k.Drain(); !ok {
			break
		}
	}
	m := k.Stats().MaskedSamples
	frac := float64(m) / float64(total)
	t.Logf("%d prompts, %.1f min of speech: %.0f ms masked (%.3f %%) in %d prompts, %d digits captured",
		len(files), float64(total)/rate/60, float64(m)/msS, 100*frac, spans, digits)
	if frac > 0.005 {
		t.Errorf("%.3f %% of speech masked", 100*frac)
	}
	if digits != 0 {
		t.Errorf("%d digits captured from speech (talk-off)", digits)
	}
}

package loadgen

import (
	"errors"
	"testing"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
)

func speechAudio(t *testing.T) *payloadAudio {
	t.Helper()
	a, err := newPayloadAudio(AudioSpeech)
	if errors.Is(err, corpus.ErrMissing) {
		dtmftest.Missing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A coded header comes back intact through decode and parsePacket, for both shaped loads.
func TestPayloadAudioRoundTrip(t *testing.T) {
	quiet, err := newPayloadAudio(AudioQuiet)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]*payloadAudio{"quiet": quiet, "speech": speechAudio(t)} {
		b := make([]byte, packetLen)
		for seq := uint32(0); seq < 500; seq += 7 {
			writePacket(b, 1000, 7, seq, int64(seq)*123457)
			a.encode(b, 7, seq)
			a.decode(b)
			h, ok, err := parsePacket(b, 1000, 8)
			if err != nil || !ok || h.stream != 7 || h.seq != seq || h.sendNs != int64(seq)*123457 {
				t.Fatalf("%s seq %d: %+v ok=%v err=%v", name, seq, h, ok, err)
			}
		}
	}
}

// Quiet payloads are line noise: every sample is 0 or the smallest step either side.
func TestPayloadAudioQuietLevel(t *testing.T) {
	a, _ := newPayloadAudio(AudioQuiet)
	b := make([]byte, packetLen)
	for seq := uint32(0); seq < 200; seq++ {
		writePacket(b, 0xfffff, 1, seq, int64(seq)<<40|0x5a5a5a5a)
		a.encode(b, 1, seq)
		for i, c := range b[rtpHeaderLen:] {
			if v := g711.UlawToLinear(c); v > 8 || v < -8 {
				t.Fatalf("seq %d sample %d: %d, not line noise", seq, i, v)
			}
		}
	}
}

// Speech payloads carry speech after the coded header: loud enough to analyse, and
// different per stream.
func TestPayloadAudioSpeech(t *testing.T) {
	a := speechAudio(t)
	b1, b2 := make([]byte, packetLen), make([]byte, packetLen)
	loud := 0
	for seq := uint32(0); seq < 200; seq++ {
		writePacket(b1, 0, 0, seq, 0)
		a.encode(b1, 0, seq)
		writePacket(b2, 0, 1, seq, 0)
		a.encode(b2, 1, seq)
		var e float64
		for _, c := range b1[rtpHeaderLen+codedHeaderLen:] {
			v := float64(g711.UlawToLinear(c))
			e += v * v
		}
		if e/float64(payloadLen-codedHeaderLen) > 1000*1000 { // above about -30 dBm0
			loud++
		}
		if string(b1[rtpHeaderLen+codedHeaderLen:]) == string(b2[rtpHeaderLen+codedHeaderLen:]) {
			t.Fatalf("seq %d: two streams carry the same audio", seq)
		}
	}
	if loud < 50 {
		t.Fatalf("%d of 200 packets carry speech-level audio", loud)
	}
}

// A payload the relay rewrote (masked) fails the check word after decode; a tone packet
// (marker bit) is left alone; nothing allocates.
func TestPayloadAudioRewrittenAndAllocs(t *testing.T) {
	a, _ := newPayloadAudio(AudioQuiet)
	b := make([]byte, packetLen)
	writePacket(b, 0, 1, 9, 99)
	a.encode(b, 1, 9)
	for i := rtpHeaderLen; i < packetLen; i++ {
		b[i] = 0xFF // what silence masking writes
	}
	a.decode(b)
	if _, ok, err := parsePacket(b, 0, 4); err != nil || ok {
		t.Fatalf("rewritten payload: ok=%v err=%v, want counted as rewritten", ok, err)
	}
	tone := make([]byte, packetLen)
	writePacket(tone, 0, 1, 9, 99)
	tone[1] |= markerBit
	want := string(tone)
	a.decode(tone)
	if string(tone) != want {
		t.Fatal("decode touched a tone packet")
	}
	if n := testing.AllocsPerRun(100, func() {
		writePacket(b, 0, 1, 9, 99)
		a.encode(b, 1, 9)
		a.decode(b)
	}); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
	if _, err := newPayloadAudio("bogus"); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad mode: %v, want ErrConfig", err)
	}
}

func FuzzPayloadAudioDecode(f *testing.F) {
	good := make([]byte, packetLen)
	writePacket(good, 0, 1, 2, 3)
	a := &payloadAudio{}
	a.encode(good, 1, 2)
	f.Add(good)
	f.Add([]byte{0x80, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a.decode(b)
		_, _, _ = parsePacket(b, 0, 4)
	})
}

package loadgen

import (
	"fmt"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/g711"
)

// What the load sounds like to a relay that decodes it (Config.Audio).
//
//   - AudioBurst (the default, and what every figure before -audio used): the 24
//     measurement bytes as they are, which decode as 3 ms of loud noise at the start of
//     every packet, then quiet codes. Every packet gives a DTMF detector something to
//     analyse: the costly case.
//   - AudioQuiet: the measurement bytes coded two bits per sample into µ-law's four
//     quietest codes (0 and ±8 of 32767, -66 dBm0 at most), then the same quiet codes: a
//     listener's leg, line noise only.
//   - AudioSpeech: the coded header (12 ms of that line noise), then 8 ms of speech from
//     the Asterisk prompt corpus (package media/corpus), each stream
//     at its own place in it: a talker's leg, with a gap in every packet.
const (
	AudioBurst  = "burst"
	AudioQuiet  = "quiet"
	AudioSpeech = "speech"
)

// codedHeaderLen is the payload room a coded header takes: four samples per byte.
const codedHeaderLen = 4 * payloadHeaderLen

// speechSamples is how much of the corpus AudioSpeech plays: 2 minutes.
const speechSamples = 120 * corpus.Rate

// payloadAudio shapes load payloads for AudioQuiet and AudioSpeech (nil: AudioBurst).
type payloadAudio struct {
	speech []byte // µ-law; nil for AudioQuiet
}

// newPayloadAudio returns the shaper for mode, reading the speech corpus if needed.
func newPayloadAudio(mode string) (*payloadAudio, error) {
	switch mode {
	case "", AudioBurst:
		return nil, nil
	case AudioQuiet:
		return &payloadAudio{}, nil
	case AudioSpeech:
		pcm, err := corpus.Speech(speechSamples, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: audio %s: %w", ErrConfig, AudioSpeech, err)
		}
		sp := make([]byte, len(pcm))
		g711.EncodeUlaw(sp, pcm)
		return &payloadAudio{speech: sp}, nil
	}
	return nil, fmt.Errorf("%w: audio %q (want %s, %s or %s)", ErrConfig, mode, AudioBurst, AudioQuiet, AudioSpeech)
}

// quietCode is the µ-law code of a 2-bit symbol: 0xFF and 0x7F are µ-law's two zeros,
// 0xFE and 0x7E the smallest step either side (G.711 inverts the bits, so bit 7 is the
// sign and bit 0 the lowest of the magnitude). quietSymbol undoes it.
func quietCode(sym byte) byte { return 0xFF ^ (sym&1)<<7 ^ (sym>>1)&1 }

func quietSymbol(c byte) byte { return (c>>7 ^ 1) | (c&1^1)<<1 }

// encode reshapes a packet writePacket made: header coded into quiet samples, then quiet
// codes or the stream's speech. Allocation-free.
func (a *payloadAudio) encode(b []byte, s, seq uint32) {
	p := b[rtpHeaderLen:packetLen]
	var hdr [payloadHeaderLen]byte
	copy(hdr[:], p)
	for i, x := range hdr {
		p[4*i], p[4*i+1], p[4*i+2], p[4*i+3] = quietCode(x>>6), quietCode(x>>4&3), quietCode(x>>2&3), quietCode(x&3)
	}
	rest := p[codedHeaderLen:]
	if a.speech == nil {
		copy(rest, quietPayload[codedHeaderLen:])
		return
	}
	n := len(a.speech) - len(rest)
	off := int((uint64(s)*104729 + uint64(seq)*uint64(len(rest))) % uint64(n))
	copy(rest, a.speech[off:])
}

// decode turns a received packet's coded header back into writePacket's layout, in place,
// so parsePacket reads it; a payload the relay rewrote fails parsePacket's check word.
func (a *payloadAudio) decode(b []byte) {
	if len(b) != packetLen || b[1]&markerBit != 0 {
		return
	}
	p := b[rtpHeaderLen:]
	for i := range payloadHeaderLen {
		// i <= 4i: each byte is read before it is overwritten.
		p[i] = quietSymbol(p[4*i])<<6 | quietSymbol(p[4*i+1])<<4 | quietSymbol(p[4*i+2])<<2 | quietSymbol(p[4*i+3])
	}
}

package loadgen

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
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
//     the Asterisk prompt corpus (Debian package asterisk-core-sounds-en-wav), each stream
//     at its own place in it: a talker's leg, with a gap in every packet.
const (
	AudioBurst  = "burst"
	AudioQuiet  = "quiet"
	AudioSpeech = "speech"
)

// codedHeaderLen is the payload room a coded header takes: four samples per byte.
const codedHeaderLen = 4 * payloadHeaderLen

// SpeechCorpusDir is where AudioSpeech reads its prompts.
var SpeechCorpusDir = "/usr/share/asterisk/sounds/en"

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
		sp, err := loadSpeech(SpeechCorpusDir, 120*8000)
		if err != nil {
			return nil, err
		}
		return &payloadAudio{speech: sp}, nil
	}
	return nil, fmt.Errorf("%w: audio %q (want %s, %s or %s)", ErrConfig, mode, AudioBurst, AudioQuiet, AudioSpeech)
}

// loadSpeech reads up to max samples of 8 kHz 16-bit mono prompts from dir, in name order,
// and returns them µ-law coded.
func loadSpeech(dir string, max int) ([]byte, error) {
	names, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	sort.Strings(names)
	var pcm []int16
	for _, n := range names {
		ch, err := dtmftest.ReadWAV(n)
		if err != nil || len(ch) != 1 {
			continue
		}
		pcm = append(pcm, ch[0]...)
		if len(pcm) >= max {
			break
		}
	}
	if len(pcm) < 8000 {
		return nil, fmt.Errorf("%w: audio speech needs the prompts of Debian package asterisk-core-sounds-en-wav in %s", ErrConfig, dir)
	}
	pcm = pcm[:min(len(pcm), max)]
	out := make([]byte, len(pcm))
	g711.EncodeUlaw(out, pcm)
	return out, nil
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

package loadgen

import (
	"math"

	"github.com/hushmedia/hush/media/g711"
)

// DTMF bursts: a tone of toneFrames packets (100 ms, long enough for any detector, Q.24)
// replaces the audio of one call's customer -> agent stream. A tone packet carries no load
// header (its whole payload is the tone), so it is marked with the RTP marker bit, which
// relays forward untouched even when they mask the payload; receivers count it by its RTP
// header and leave it out of latency.
const (
	toneFrames  = 5
	toneLevel   = 7200 // about -10 dBm0 per frequency (G.711: 0 dBm0 is a sine of amplitude ~22770)
	markerBit   = 0x80
	toneDigits  = "1234567890"
	sampleRateF = 8000.0
)

// dtmfFreqs are the ITU-T Q.23 row and column frequencies of toneDigits.
var dtmfFreqs = [10][2]float64{
	{697, 1209}, {697, 1336}, {697, 1477}, {770, 1209}, {770, 1336},
	{770, 1477}, {852, 1209}, {852, 1336}, {852, 1477}, {941, 1336},
}

// toneTable holds the mu-law payloads of each digit's burst, computed once per run.
type toneTable [10][toneFrames][payloadLen]byte

func newToneTable() *toneTable {
	t := new(toneTable)
	pcm := make([]int16, payloadLen)
	for d, f := range dtmfFreqs {
		for fr := range toneFrames {
			for i := range pcm {
				n := float64(fr*payloadLen + i)
				v := toneLevel * (math.Sin(2*math.Pi*f[0]*n/sampleRateF) + math.Sin(2*math.Pi*f[1]*n/sampleRateF))
				pcm[i] = int16(v)
			}
			g711.EncodeUlaw(t[d][fr][:], pcm)
		}
	}
	return t
}

// toneAt reports whether stream s sends tone frame fr of digit d at period p: every
// everyPeriods periods the next call in turn sends one burst on its customer -> agent
// stream.
func toneAt(s uint32, p, everyPeriods, calls int) (digit, frame int, ok bool) {
	if everyPeriods <= 0 || s&1 != 0 {
		return 0, 0, false
	}
	burst, fr := p/everyPeriods, p%everyPeriods
	if fr >= toneFrames || int(s/2) != burst%calls {
		return 0, 0, false
	}
	return burst % len(dtmfFreqs), fr, true
}

// writeTonePacket writes a marked packet whose payload is tone frame fr of digit d.
func writeTonePacket(b []byte, t *toneTable, ssrcBase, s, seq uint32, d, fr int) {
	writePacket(b, ssrcBase, s, seq, 0)
	b[1] |= markerBit
	copy(b[rtpHeaderLen:packetLen], t[d][fr][:])
}

package relay

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// Test signals for the masking tests: DTMF bursts, speech, G.711 RTP
// packets, WAV files and the multimon-ng judge.

const (
	sRate  = 8000
	sMs    = sRate / 1000
	sFrame = 160
)

var dtmfKeys = "123A456B789C*0#D"

func dtmfPair(k byte) (lo, hi float64) {
	rows := [4]float64{697, 770, 852, 941}
	cols := [4]float64{1209, 1336, 1477, 1633}
	i := strings.IndexByte(dtmfKeys, k)
	return rows[i/4], cols[i%4]
}

// tone is a DTMF burst at sample at, dur samples, dbm0 per tone.
type tone struct {
	key     byte
	at, dur int
	dbm0    float64
}

func (b tone) add(sig []float64, r *rand.Rand) {
	lo, hi := dtmfPair(b.key)
	a := g711.Peak0dBm0 * math.Pow(10, b.dbm0/20)
	pl, ph := r.Float64()*2*math.Pi, r.Float64()*2*math.Pi
	for n := 0; n < b.dur && b.at+n < len(sig); n++ {
		t := float64(n) / sRate
		sig[b.at+n] += a*math.Sin(2*math.Pi*lo*t+pl) + a*math.Sin(2*math.Pi*hi*t+ph)
	}
}

func toPCM(sig []float64) []int16 {
	out := make([]int16, len(sig))
	for i, v := range sig {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// speechSignal returns n samples of the Asterisk English prompts (Debian
// asterisk-core-sounds-en-wav) or, when missing, a synthetic voiced signal
// with syllable-like envelope.
func speechSignal(t testing.TB, n int) ([]float64, bool) {
	t.Helper()
	files, _ := filepath.Glob("/usr/share/asterisk/sounds/en/*.wav")
	sort.Strings(files)
	var out []float64
	for _, f := range files {
		if len(out) >= n {
			return out[:n], true
		}
		pcm, err := readWAV16(f)
		if err != nil {
			continue
		}
		for _, v := range pcm {
			out = append(out, float64(v))
		}
	}
	if len(out) >= n {
		return out[:n], true
	}
	if ciRequired() {
		t.Fatal("Asterisk prompts missing: install Debian package asterisk-core-sounds-en-wav")
	}
	out = make([]float64, n)
	ph := 0.0
	for i := range out {
		f0 := 110 + 30*math.Sin(2*math.Pi*float64(i)/9000)
		ph += 2 * math.Pi * f0 / sRate
		env := math.Max(0, math.Sin(2*math.Pi*float64(i)/1800))
		var v float64
		for h := 1; h <= 25; h++ {
			fh := f0 * float64(h)
			v += (math.Exp(-math.Pow((fh-600)/250, 2)) + 0.5*math.Exp(-math.Pow((fh-1700)/300, 2))) * math.Sin(float64(h)*ph)
		}
		out[i] = 3000 * env * v
	}
	return out, false
}

func readWAV16(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, os.ErrInvalid
	}
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		size = min(size, len(b)-off)
		if id == "data" {
			pcm := make([]int16, size/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(b[off+2*i:]))
			}
			return pcm, nil
		}
		off += size + size&1
	}
	return nil, os.ErrInvalid
}

func writeWAV16(t testing.TB, path string, pcm []int16) {
	t.Helper()
	b := make([]byte, 44+2*len(pcm))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], sRate)
	binary.LittleEndian.PutUint32(b[28:], 2*sRate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// judge runs multimon-ng -a DTMF (Debian package multimon-ng) on pcm and
// returns the digits it reports.
func judge(t testing.TB, dir, name string, pcm []int16) string {
	t.Helper()
	bin, err := exec.LookPath("multimon-ng")
	if err != nil {
		if ciRequired() {
			t.Fatal("multimon-ng missing: install Debian package multimon-ng")
		}
		t.Skip("multimon-ng missing: install Debian package multimon-ng")
	}
	path := filepath.Join(dir, name+".wav")
	writeWAV16(t, path, pcm)
	out, err := exec.Command(bin, "-q", "-c", "-a", "DTMF", "-t", "wav", path).CombinedOutput()
	if err != nil {
		t.Fatalf("multimon-ng: %v\n%s", err, out)
	}
	var d strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "DTMF: "); ok && len(k) == 1 {
			d.WriteString(k)
		}
	}
	return d.String()
}

// g711Stream packetizes PCM as 20 ms G.711 RTP packets.
type g711Stream struct {
	pt   uint8 // 0 PCMU, 8 PCMA
	ssrc uint32
	seq  uint16
	ts   uint32
}

func (s *g711Stream) next(pcm []int16) []byte {
	h := rtp.Header{Version: 2, PayloadType: s.pt, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc}
	b := make([]byte, h.MarshalSize()+len(pcm))
	n, _ := h.MarshalTo(b)
	if s.pt == 8 {
		g711.EncodeAlaw(b[n:], pcm)
	} else {
		g711.EncodeUlaw(b[n:], pcm)
	}
	s.seq++
	s.ts += uint32(len(pcm))
	return b
}

func (s *g711Stream) all(pcm []int16) [][]byte {
	var out [][]byte
	for i := 0; i+sFrame <= len(pcm); i += sFrame {
		out = append(out, s.next(pcm[i:i+sFrame]))
	}
	return out
}

// pcmOf decodes the G.711 payloads of packets, in order.
func pcmOf(t testing.TB, pkts [][]byte) []int16 {
	t.Helper()
	var out []int16
	var h rtp.Header
	for _, p := range pkts {
		if _, err := h.Unmarshal(p); err != nil {
			t.Fatal(err)
		}
		pay := h.Payload(p)
		buf := make([]int16, len(pay))
		if h.PayloadType == 8 {
			g711.DecodeAlaw(buf, pay)
		} else {
			g711.DecodeUlaw(buf, pay)
		}
		out = append(out, buf...)
	}
	return out
}

package main

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-audio/wav"
	"github.com/pion/rtp"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Phones and judges for the recording tests, beside audio_test.go's signals: G.711 and
// RFC 4733 packets sent at real 20 ms pace, go-audio/wav, multimon-ng on files, soxi.

// decodeWAV decodes a 16-bit 8 kHz PCM WAV of chans channels with go-audio/wav.
func decodeWAV(b []byte, chans int) ([][]int16, error) {
	d := wav.NewDecoder(bytes.NewReader(b))
	if !d.IsValidFile() {
		return nil, errBadWAV("not a valid WAV")
	}
	if int(d.NumChans) != chans || d.SampleRate != audioRate || d.BitDepth != 16 || d.WavAudioFormat != 1 {
		return nil, errBadWAV("format " + strconv.Itoa(int(d.NumChans)) + " ch " + strconv.Itoa(int(d.SampleRate)) +
			" Hz " + strconv.Itoa(int(d.BitDepth)) + " bit")
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return nil, err
	}
	out := make([][]int16, chans)
	for i := 0; i+chans <= len(buf.Data); i += chans {
		for c := range chans {
			out[c] = append(out[c], int16(buf.Data[i+c]))
		}
	}
	return out, nil
}

type errBadWAV string

func (e errBadWAV) Error() string { return string(e) }

// judge runs the independent DTMF decoder, multimon-ng (Debian package multimon-ng), on a
// WAV file as it is (a stereo recording is mixed down) and returns the digits it reports.
func judge(t *testing.T, path string) string {
	t.Helper()
	return dtmftest.JudgeFile(t, needDebianTool(t, "multimon-ng", "multimon-ng"), path)
}

// wavFormat is what soxi (Debian package sox) reads from a file's header.
type wavFormat struct {
	channels, rate, bits int
	samples              int64
}

func soxi(t *testing.T, path string) wavFormat {
	t.Helper()
	bin := needDebianTool(t, "soxi", "sox")
	num := func(opt string) int64 {
		out, err := exec.Command(bin, opt, path).CombinedOutput()
		if err != nil {
			t.Fatalf("soxi %s %s: %v\n%s", opt, path, err, out)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			t.Fatalf("soxi %s %s: %q", opt, path, out)
		}
		return v
	}
	return wavFormat{channels: int(num("-c")), rate: int(num("-r")), bits: int(num("-b")), samples: num("-s")}
}

// checkStereo asserts soxi reads path as the recording format: 2 channels, 8 kHz, 16 bit.
func checkStereo(t *testing.T, path string) wavFormat {
	t.Helper()
	f := soxi(t, path)
	if f.channels != 2 || f.rate != audioRate || f.bits != 16 {
		t.Fatalf("soxi %s: %d channels, %d Hz, %d bit; want 2, 8000, 16", path, f.channels, f.rate, f.bits)
	}
	return f
}

// phone builds one leg's RTP stream: G.711 audio and RFC 4733 events share the SSRC,
// sequence numbers and timestamp clock, as phones send them.
type phone struct {
	pt, eventPT uint8
	ssrc        uint32
	seq         uint16
	ts0         uint32
}

func (p *phone) marshal(t *testing.T, h rtp.Header, payload []byte) []byte {
	t.Helper()
	h.Version, h.SSRC, h.SequenceNumber = 2, p.ssrc, p.seq
	p.seq++
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// audio is the packet carrying samples [n, n+160) of the leg's signal.
func (p *phone) audio(t *testing.T, n int, pcm []int16) []byte {
	t.Helper()
	pay := make([]byte, len(pcm))
	if p.pt == 8 {
		g711.EncodeAlaw(pay, pcm)
	} else {
		g711.EncodeUlaw(pay, pcm)
	}
	return p.marshal(t, rtp.Header{PayloadType: p.pt, Timestamp: p.ts0 + uint32(n)}, pay)
}

// event is an RFC 4733 telephone-event packet (section 2.3): the event started at
// sample start and has lasted dur samples; end sets the E bit.
func (p *phone) event(t *testing.T, key byte, start, dur int, dbm0 float64, first, end bool) []byte {
	t.Helper()
	code := strings.IndexByte("0123456789*#ABCD", key)
	pay := []byte{byte(code), byte(-dbm0) & 0x3f, byte(dur >> 8), byte(dur)}
	if end {
		pay[1] |= 0x80
	}
	return p.marshal(t, rtp.Header{PayloadType: p.eventPT, Timestamp: p.ts0 + uint32(start), Marker: first}, pay)
}

// decoded is what hush decodes from a leg's audio payload: the signal after the G.711
// round trip, the input the judge hears.
func decoded(pt uint8, pcm []int16) []int16 {
	pay := make([]byte, len(pcm))
	out := make([]int16, len(pcm))
	if pt == 8 {
		g711.EncodeAlaw(pay, pcm)
		g711.DecodeAlaw(out, pay)
	} else {
		g711.EncodeUlaw(pay, pcm)
		g711.DecodeUlaw(out, pay)
	}
	return out
}

// timed is a packet due in a 20 ms slot (slot k is due k*20 ms after the first).
type timed struct {
	slot int
	pkt  []byte
}

// wire is one phone's socket and where it sends.
type wire struct {
	from *endpoint
	to   netip.AddrPort
	pkts []timed // in slot order
}

// pacer sends wires' packets at real pace: slot k at start+k*20ms on a phone's clock
// (phoneClock), so the RTP timeline and wall time stay together as a phone's do.
type pacer struct {
	start time.Time
	// late[k] is how far behind its time slot k went out (written by the sender; read it
	// after stop or wait).
	late  []time.Duration
	slot  atomic.Int64 // slots sent so far
	marks map[int]chan struct{}
	done  chan struct{}
	quit  chan struct{}
	once  sync.Once
	err   atomic.Pointer[string]
}

// pace starts sending; marks are slots whose sending the test wants to wait for.
func pace(wires []wire, marks ...int) *pacer {
	p := &pacer{marks: map[int]chan struct{}{}, done: make(chan struct{}), quit: make(chan struct{})}
	last := 0
	for _, w := range wires {
		if n := len(w.pkts); n > 0 {
			last = max(last, w.pkts[n-1].slot)
		}
	}
	for _, m := range marks {
		p.marks[m] = make(chan struct{})
	}
	clk := newPhoneClock(audioPtime)
	p.start = clk.start
	go func() {
		defer close(p.done)
		next := make([]int, len(wires))
		for sent := 0; sent <= last; sent++ {
			if !clk.wait(p.quit, sent) {
				return
			}
			p.late = append(p.late, time.Since(clk.at(sent)))
			for i, w := range wires {
				for ; next[i] < len(w.pkts) && w.pkts[next[i]].slot == sent; next[i]++ {
					if _, err := w.from.conn.WriteToUDPAddrPort(w.pkts[next[i]].pkt, w.to); err != nil {
						msg := err.Error()
						p.err.Store(&msg)
						return
					}
				}
			}
			p.slot.Store(int64(sent + 1))
			if ch := p.marks[sent]; ch != nil {
				close(ch)
			}
		}
	}()
	return p
}

// waitSlot waits until slot k was sent.
func (p *pacer) waitSlot(t *testing.T, k int) {
	t.Helper()
	select {
	case <-p.marks[k]:
	case <-p.done:
		if p.err.Load() != nil {
			t.Fatalf("sending: %s", *p.err.Load())
		}
		t.Fatalf("sender ended before slot %d", k)
	case <-time.After(wait + time.Duration(k)*audioPtime):
		t.Fatalf("slot %d not reached", k)
	}
}

// wait waits for the last packet to be sent.
func (p *pacer) wait(t *testing.T, slots int) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(wait + time.Duration(slots)*audioPtime):
		t.Fatal("sender did not finish")
	}
	if e := p.err.Load(); e != nil {
		t.Fatalf("sending: %s", *e)
	}
}

// stop ends the sending early and waits for the sender to return.
func (p *pacer) stop() {
	p.once.Do(func() { close(p.quit) })
	<-p.done
}

// sampleAt is the stream sample a phone was sending at wall time at (slot k carries
// samples from k*160, sent at start+k*20ms).
func (p *pacer) sampleAt(at time.Time) float64 {
	return float64(at.Sub(p.start)) / float64(time.Second/audioRate)
}

// download fetches a recording through DownloadRecording into a file of dir.
func download(t *testing.T, d *daemon, id, dir string) (string, []byte) {
	t.Helper()
	st, err := hushv1.NewRecordingServiceClient(d.conn).DownloadRecording(d.ctx(), &hushv1.DownloadRecordingRequest{RecordingId: id})
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := 0; i < 1<<16; i++ {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("download %s: %v", id, err)
		}
		if m.Offset != uint64(len(b)) {
			t.Fatalf("download %s: chunk at %d, have %d", id, m.Offset, len(b))
		}
		b = append(b, m.Chunk...)
	}
	path := filepath.Join(dir, id+".wav")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// rpcTime runs a control RPC and returns when it was sent and when it returned.
func rpcTime(t *testing.T, what string, f func() error) (time.Time, time.Time) {
	t.Helper()
	t0 := time.Now()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return t0, time.Now()
}

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func mid(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2) }

package mask

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

type tapFrame struct {
	ssrc, ts uint32
	pcm      []int16
	pushed   int // packets pushed when it was delivered
}

// TestRecordTap: the recording tap delivers every sample once, in order,
// with DTMF (in-band and RFC 4733) replaced by silence whatever the
// forwarding policy, only once the detector is RecordDelay past a frame,
// reports each masked stretch once, and FlushRecord delivers the rest.
// multimon-ng finds all digits in the input and none in the recording.
func TestRecordTap(t *testing.T) {
	dir := t.TempDir()
	for _, forward := range []bool{false, true} {
		t.Run(fmt.Sprintf("forward_masked=%v", forward), func(t *testing.T) {
			r := rand.New(rand.NewPCG(51, 52))
			c := judgeCase{durMs: 50, dbm0: -25, codec: CodecPCMU}
			pcm, bursts := judgeSignal(t, c, r)
			s := &stream{pt: 0, ssrc: 77, ts: 1 << 30, codec: CodecPCMU}
			pkts := s.packets(pcm)
			// Key presses also as RFC 4733 events over silence at the end.
			const tePT = 101
			codecs := DefaultCodecs()
			codecs.Set(tePT, "telephone-event")
			evAt := len(pkts)
			tail := s.packets(make([]int16, 40*frame))
			var in []timed
			for i, p := range append(pkts, tail...) {
				in = append(in, timed{at: time.Duration(i) * frameDt, pkt: p})
				if k := i - evAt - 10; k >= 0 && k < 8 {
					in = append(in, timed{at: time.Duration(i) * frameDt,
						pkt: event(tePT, 77, uint16(500+k), s.ts-uint32(len(tail)-10)*frame, k == 0, 3, k == 7, uint16((k+1)*frame))})
				}
			}
			var got []tapFrame
			var runs [][2]uint32
			pushed := 0
			k := New(WithRecordTap(0, func(ssrc, ts uint32, f *RecordFrame) {
				if f.Law != g711.Ulaw || f.Silent != nil && len(f.Silent) != len(f.Codes) {
					t.Fatalf("frame law %v, %d codes, %d silent flags", f.Law, len(f.Codes), len(f.Silent))
				}
				got = append(got, tapFrame{ssrc, ts, f.PCM(make([]int16, len(f.Codes))), pushed})
			}, func(ssrc, a, b uint32) { runs = append(runs, [2]uint32{a, b}) }))
			k.Configure(Policy{Mode: ModeTone}, &codecs)
			var h rtp.Header
			for _, p := range in {
				h.Unmarshal(p.pkt)
				if forward {
					k.Push(&h, p.pkt, p.at)
					for {
						if _, ok := k.Pop(p.at); !ok {
							break
						}
					}
				} else {
					k.Observe(&h, p.pkt, p.at)
				}
				if h.PayloadType != tePT {
					pushed++
				}
			}
			before := len(got)
			k.FlushRecord()
			if before == len(got) {
				t.Fatal("FlushRecord delivered nothing: the last frames should wait for look-ahead")
			}
			var rec []int16
			next := uint32(1 << 30)
			for i, f := range got {
				if f.ssrc != 77 || f.ts != next {
					t.Fatalf("frame %d: ssrc %d ts %d, want ts %d", i, f.ssrc, f.ts, next)
				}
				next += uint32(len(f.pcm))
				rec = append(rec, f.pcm...)
				// A frame leaves once RecordDelay (640 samples = 4 packets)
				// more was analysed.
				if i < before {
					if end := int(f.ts-1<<30) + len(f.pcm); (f.pushed+1)*frame < end+640 {
						t.Fatalf("frame %d (end %d) delivered after %d samples analysed", i, end, (f.pushed+1)*frame)
					}
				}
			}
			all := decode(t, func() []released {
				var rs []released
				for _, p := range append(pkts, tail...) {
					rs = append(rs, released{pkt: p})
				}
				return rs
			}())
			if len(rec) != len(all) {
				t.Fatalf("recorded %d samples of %d", len(rec), len(all))
			}
			if d := multimon(t, dir, "rec_in", all); d != keys {
				t.Errorf("judge finds %q in the input", d)
			}
			if d := multimon(t, dir, fmt.Sprintf("rec_out_%v", forward), rec); d != "" {
				t.Errorf("judge finds %d digits in the recording", len(d))
			}
			for _, b := range bursts {
				for j := b.at; j < b.at+b.dur; j++ {
					if rec[j] != 0 {
						t.Fatalf("tone at %d: sample %d recorded", b.at, j)
					}
				}
			}
			evStart := (evAt + 10) * frame
			for j := evStart; j < evStart+8*frame; j++ {
				if rec[j] != 0 {
					t.Fatalf("RFC 4733 span sample %d recorded", j)
				}
			}
			// One masked stretch per tone plus the event.
			if len(runs) != len(bursts)+1 {
				t.Fatalf("%d masked stretches reported, want %d: %v", len(runs), len(bursts)+1, runs)
			}
			for i, b := range bursts {
				a, e := runs[i][0]-1<<30, runs[i][1]-1<<30
				if int(a) > b.at || int(e) < b.at+b.dur || int(a) < b.at-frame || int(e) > b.at+b.dur+40*msS {
					t.Fatalf("stretch %v for the tone [%d, %d)", [2]uint32{a, e}, b.at, b.at+b.dur)
				}
			}
			st := k.Stats()
			if st.RecordLateMasks != 0 || st.RecordOverflows != 0 {
				t.Fatalf("%+v", st)
			}
			t.Logf("recording: %d frames, %d masked stretches, %.0f ms masked; judge 16/16 in, 0 out",
				len(got), len(runs), float64(st.RecordMaskedSamples)/msS)
		})
	}
}

func TestRecordFramePCM(t *testing.T) {
	f := RecordFrame{Law: g711.Alaw, Codes: []byte{0xD5, 0x2A, 0x55}, Silent: []bool{false, true, false}}
	got := f.PCM(make([]int16, 4))
	want := []int16{g711.AlawToLinear(0xD5), 0, g711.AlawToLinear(0x55)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("PCM = %v, want %v", got, want)
	}
	f.Silent = nil
	if got := f.PCM(make([]int16, 3)); got[1] != g711.AlawToLinear(0x2A) {
		t.Fatalf("unsilenced sample = %d", got[1])
	}
}

// TestRecordFrameArrival: each frame the tap hands over carries the arrival of its first
// sample, also the frames it held until FlushRecord and the parts of a packet longer
// than a tap frame.
func TestRecordFrameArrival(t *testing.T) {
	for _, samples := range []int{frame, 3 * recFrameMax / 2} {
		pcm := make([]int16, samples)
		for i := range pcm {
			pcm[i] = int16(100 + i%50)
		}
		pay := make([]byte, samples)
		g711.EncodeUlaw(pay, pcm)
		type got struct {
			ts uint32
			at time.Duration
		}
		var frames []got
		codecs := DefaultCodecs()
		k := New(WithRecordTap(0, func(ssrc, ts uint32, f *RecordFrame) {
			frames = append(frames, got{ts, f.Arrival})
		}, nil))
		k.Configure(Policy{}, &codecs)
		const dt = 7 * time.Millisecond // not the packet time: arrival is not derived from timestamps
		for i := range 20 {
			h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: 9000 + uint32(i*samples), SSRC: 5}
			p := make([]byte, h.MarshalSize()+len(pay))
			n, err := h.MarshalTo(p)
			if err != nil {
				t.Fatal(err)
			}
			copy(p[n:], pay)
			if _, err := h.Unmarshal(p); err != nil {
				t.Fatal(err)
			}
			k.Observe(&h, p, time.Second+time.Duration(i)*dt)
		}
		k.FlushRecord()
		if len(frames) < 20 {
			t.Fatalf("%d samples a packet: %d frames", samples, len(frames))
		}
		for _, f := range frames {
			rel := int(f.ts - 9000)
			i, off := rel/samples, rel%samples
			want := time.Second + time.Duration(i)*dt + time.Duration(off)*sampleDur
			if f.at != want {
				t.Fatalf("%d samples a packet: frame at ts %d has arrival %v, want %v", samples, f.ts, f.at, want)
			}
		}
	}
}

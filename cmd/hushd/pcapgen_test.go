package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/pcap"
)

// sip-tester's reference captures (Debian package sip-tester): PCMA speech, and one
// RFC 4733 event per file, payload type 101.
const (
	sipTesterSpeech = "/usr/share/sip-tester/g711a.pcap"
	sipTesterEvent  = "/usr/share/sip-tester/dtmf_2833_%s.pcap"
)

// pcapRTP returns the RTP packets (UDP payloads) of a capture, in order.
func pcapRTP(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (Debian package sip-tester)", path, err)
		}
		t.Skipf("%s missing: install Debian package sip-tester (%v)", path, err)
	}
	defer f.Close()
	rd, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for range 100000 {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		dg, err := pcap.UDP(rd.LinkType, rec.Data)
		if err != nil {
			continue
		}
		out = append(out, append([]byte(nil), dg.Payload...))
	}
	t.Fatal("capture too long")
	return nil
}

// sipTesterSpeechPCM decodes sip-tester's PCMA speech capture to 16-bit PCM.
func sipTesterSpeechPCM(t *testing.T) []int16 {
	t.Helper()
	var pcm []int16
	for _, b := range pcapRTP(t, sipTesterSpeech) {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil || p.PayloadType != 8 {
			continue
		}
		for _, c := range p.Payload {
			pcm = append(pcm, g711.AlawToLinear(c))
		}
	}
	return pcm
}

// rtpOut builds the RTP stream a phone sends: 20 ms PCMA packets of pcm from ssrc, with
// RFC 4733 events inserted where asked (events[i] is sent at packet index i).
type rtpOut struct {
	ssrc  uint32
	seq   uint16
	ts    uint32
	pkts  [][]byte
	times []time.Duration // send time of each packet from the stream's start
}

func newRTPOut(seed uint64) *rtpOut {
	r := rand.New(rand.NewPCG(seed, 7))
	return &rtpOut{ssrc: r.Uint32(), seq: uint16(r.Uint32()), ts: r.Uint32()}
}

func (o *rtpOut) add(t *testing.T, pt uint8, marker bool, ts uint32, payload []byte, at time.Duration) {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: o.seq,
		Timestamp: ts, SSRC: o.ssrc}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	o.seq++
	o.pkts, o.times = append(o.pkts, b), append(o.times, at)
}

// audio appends pcm as 20 ms PCMA packets.
func (o *rtpOut) audio(t *testing.T, pcm []int16, start time.Duration) time.Duration {
	t.Helper()
	at := start
	for i := 0; i+160 <= len(pcm); i += 160 {
		payload := make([]byte, 160)
		for j := range payload {
			payload[j] = g711.LinearToAlaw(pcm[i+j])
		}
		o.add(t, 8, i == 0, o.ts, payload, at)
		o.ts += 160
		at += 20 * time.Millisecond
	}
	return at
}

// event appends one RFC 4733 event, the payloads of sip-tester's capture of that key,
// at the stream's current timestamp, as a phone sends it instead of audio.
func (o *rtpOut) event(t *testing.T, key string, start time.Duration) time.Duration {
	t.Helper()
	at := start
	var dur uint16
	for i, b := range pcapRTP(t, fmt.Sprintf(sipTesterEvent, key)) {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil || p.PayloadType != 101 || len(p.Payload) != 4 {
			t.Fatalf("%s: not an RFC 4733 packet", key)
		}
		o.add(t, 101, i == 0, o.ts, p.Payload, at)
		dur = max(dur, binary.BigEndian.Uint16(p.Payload[2:]))
		at += 20 * time.Millisecond
	}
	o.ts += uint32(dur) // the audio goes on after the event
	return at
}

// writePcap writes the stream as a classic Ethernet/IPv4/UDP capture, which sipp's
// play_pcap_audio replays with the captured timing.
func (o *rtpOut) writePcap(t *testing.T, path string) {
	t.Helper()
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	out := hdr
	base := time.Unix(1_700_000_000, 0)
	for i, p := range o.pkts {
		frame := make([]byte, 14+20+8+len(p))
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		ip := frame[14:]
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(p)))
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		udp := ip[20:]
		binary.BigEndian.PutUint16(udp[0:], 6000)
		binary.BigEndian.PutUint16(udp[2:], 6002)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(p)))
		copy(udp[8:], p)
		ts := base.Add(o.times[i])
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		out = append(append(out, rec...), frame...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// withKeys returns speech with DTMF keys added: each key 120 ms at -6 dBm0 per tone,
// the first at 500 ms, one every 400 ms.
func withKeys(speech []int16, keys string) []int16 {
	sig := make([]float64, len(speech))
	for i, s := range speech {
		sig[i] = float64(s)
	}
	r := rand.New(rand.NewPCG(11, 13))
	for i := 0; i < len(keys); i++ {
		dtmftest.Burst{Key: keys[i], At: 4000 + i*3200, Dur: 960, DBm0: -6}.AddTo(sig, r)
	}
	return dtmftest.Quantize(sig)
}

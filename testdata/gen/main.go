// Command gen writes the generated fixtures of testdata/ (see testdata/README.md):
//
//	go run ./testdata/gen [-dir testdata]
//
// Everything it writes is deterministic (fixed seeds, fixed times), so running it again
// changes no byte; cmd/hushd's TestSharedFixtures checks the files are what this makes.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

const rate = 8000

func main() {
	dir := flag.String("dir", "testdata", "where testdata/ is")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	pcm := keysWAV()
	if err := os.MkdirAll(filepath.Join(dir, "wav"), 0o755); err != nil {
		return err
	}
	if err := dtmftest.WriteWAV(filepath.Join(dir, "wav", "dtmf-147.wav"), pcm); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "pcap"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "pcap", "pcmu-rfc4733-5.pcap"), callPcap(), 0o644)
}

// keysWAV is 1.2 s at 8 kHz: a 400 Hz tone at -20 dBm0 throughout (a carrier a detector
// must not take for a key), with the keys 1, 4 and 7 at -10 dBm0 per tone, 100 ms each,
// 150 ms apart, from 200 ms.
func keysWAV() []int16 {
	r := rand.New(rand.NewPCG(147, 147))
	sig := make([]float64, 12*rate/10)
	a := g711.Peak0dBm0 * math.Pow(10, -20.0/20)
	for n := range sig {
		sig[n] = a * math.Sin(2*math.Pi*400*float64(n)/rate)
	}
	for i, k := range []byte("147") {
		dtmftest.Burst{Key: k, At: 200*8 + i*250*8, Dur: 100 * 8, DBm0: -10}.AddTo(sig, r)
	}
	return dtmftest.Quantize(sig)
}

// The call's addresses: a customer phone sending to hush.
var (
	srcIP, dstIP     = [4]byte{192, 0, 2, 10}, [4]byte{192, 0, 2, 1}
	srcPort, dstPort = uint16(4000), uint16(30000)
	start            = int64(1764759600) // 2025-12-03T11:00:00Z, the capture's first stamp
)

// callPcap is one second of a customer's PCMU stream (SSRC 0x5ca1ab1e, 20 ms packets of a
// 400 Hz tone) with, from 400 ms, the key 5 as RFC 4733 telephone-events (payload type
// 101, 100 ms, its end three times), on Ethernet/IPv4/UDP, in send order. The phone keeps
// sending audio during the key (the audio is silence then, as phones suppress in-band DTMF).
func callPcap() []byte {
	var out []byte
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4) // microseconds
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	out = append(out, hdr...)

	const ssrc = 0x5ca1ab1e
	seq := uint16(7000)
	add := func(at int, h rtp.Header, payload []byte) {
		h.Version, h.SSRC, h.SequenceNumber = 2, ssrc, seq
		seq++
		pkt := make([]byte, h.MarshalSize()+len(payload))
		n, err := h.MarshalTo(pkt)
		if err != nil {
			panic(err)
		}
		copy(pkt[n:], payload)
		out = append(out, record(int64(at)*125, frame(pkt))...) // at in samples: 125 µs each
	}
	ev, err := dtmf.DigitEvent('5')
	if err != nil {
		panic(err)
	}
	keyAt, keyDur := 400*8, 100*8
	a := g711.Peak0dBm0 * math.Pow(10, -20.0/20)
	for at := 0; at < rate; at += 160 {
		pcm := make([]int16, 160)
		if at < keyAt || at >= keyAt+keyDur {
			for i := range pcm {
				pcm[i] = int16(math.Round(a * math.Sin(2*math.Pi*400*float64(at+i)/rate)))
			}
		}
		pay := make([]byte, 160)
		g711.EncodeUlaw(pay, pcm)
		add(at, rtp.Header{PayloadType: 0, Timestamp: 160000 + uint32(at), Marker: at == 0}, pay)
		if d := at + 160 - keyAt; d > 0 && at < keyAt+keyDur {
			te := dtmf.TelephoneEvent{Event: ev, Volume: 10, Duration: uint16(min(d, keyDur)), End: d >= keyDur}
			b, err := te.Marshal()
			if err != nil {
				panic(err)
			}
			reps := 1
			if te.End {
				reps = 3
			}
			for range reps {
				add(at, rtp.Header{PayloadType: 101, Timestamp: 160000 + uint32(keyAt), Marker: at == keyAt}, b)
			}
		}
	}
	return out
}

// record is one pcap record of frame at usec microseconds after start.
func record(usec int64, frame []byte) []byte {
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h[0:], uint32(start+usec/1e6))
	binary.LittleEndian.PutUint32(h[4:], uint32(usec%1e6))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)))
	return append(h, frame...)
}

// frame wraps a UDP payload in Ethernet, IPv4 (checksummed) and UDP (checksum 0: none).
func frame(payload []byte) []byte {
	eth := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00}
	udpLen := 8 + len(payload)
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+udpLen))
	copy(ip[12:], srcIP[:])
	copy(ip[16:], dstIP[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], srcPort)
	binary.BigEndian.PutUint16(udp[2:], dstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
	out := append(eth, ip...)
	out = append(out, udp...)
	return append(out, payload...)
}

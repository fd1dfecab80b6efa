package loadgen

import (
	"errors"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	b := make([]byte, packetLen)
	fillQuiet(b)
	writePacket(b, 1000, 7, 70000, 123456789)
	h, ok, err := parsePacket(b, 1000, 8)
	if err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	if h.stream != 7 || h.seq != 70000 || h.sendNs != 123456789 || h.rtpTS != rtpTimestamp(1000, 7, 70000) {
		t.Fatalf("%+v", h)
	}
	if b[0] != 0x80 || b[1] != 0 {
		t.Fatalf("RTP header %x", b[:2])
	}
}

func TestPacketMaskedPayloadCountsWithoutLatency(t *testing.T) {
	b := make([]byte, packetLen)
	writePacket(b, 0, 3, 5, 99)
	for i := rtpHeaderLen; i < packetLen; i++ {
		b[i] = 0xFF // a masker replaced the audio
	}
	h, ok, err := parsePacket(b, 0, 4)
	if err != nil || ok || h.stream != 3 || h.seq != 5 {
		t.Fatalf("%+v %v %v", h, ok, err)
	}
	// One flipped bit in the send time fails the check word.
	writePacket(b, 0, 3, 5, 99)
	b[rtpHeaderLen+19] ^= 1
	if _, ok, _ := parsePacket(b, 0, 4); ok {
		t.Fatal("corrupted send time accepted")
	}
}

func TestPacketBadInput(t *testing.T) {
	good := make([]byte, packetLen)
	writePacket(good, 0, 1, 1, 1)
	rtcp := append([]byte(nil), good...)
	rtcp[1] = 200 // SR
	otherSSRC := append([]byte(nil), good...)
	otherSSRC[8] = 0x55
	for name, b := range map[string][]byte{
		"empty": nil, "short": good[:11], "version 1": append([]byte{0x40}, good[1:]...),
		"rtcp": rtcp, "unknown ssrc": otherSSRC,
	} {
		if _, _, err := parsePacket(b, 0, 2); !errors.Is(err, ErrPacket) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWritePacketAllocatesNothing(t *testing.T) {
	b := make([]byte, packetLen)
	n := testing.AllocsPerRun(100, func() {
		writePacket(b, 1, 2, 3, 4)
		_, _, _ = parsePacket(b, 1, 4)
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func FuzzParsePacket(f *testing.F) {
	b := make([]byte, packetLen)
	writePacket(b, 0, 1, 2, 3)
	f.Add(b)
	f.Add([]byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0x80, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok, err := parsePacket(b, 0, 16)
		if err != nil {
			if !errors.Is(err, ErrPacket) {
				t.Fatal(err)
			}
			return
		}
		if h.stream >= 16 || (ok && len(b) != packetLen) {
			t.Fatalf("%+v ok=%v len=%d", h, ok, len(b))
		}
	})
}

func BenchmarkParsePacket(b *testing.B) {
	p := make([]byte, packetLen)
	writePacket(p, 0, 1, 2, 3)
	b.ReportAllocs()
	b.SetBytes(packetLen)
	for b.Loop() {
		_, _, _ = parsePacket(p, 0, 4)
	}
}

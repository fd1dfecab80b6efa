package rtp

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	pionrtp "github.com/pion/rtp"
)

// pcma is a minimal valid packet: V=2, M=1, PT=8, seq 0x1234, ts 0xdeadbeef,
// SSRC 0x01020304, 4 payload octets.
var pcma = []byte{0x80, 0x88, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0xd5, 0xd5, 0xd5, 0xd5}

func TestHeaderUnmarshal(t *testing.T) {
	var h Header
	n, err := h.Unmarshal(pcma)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{Version: 2, Marker: true, PayloadType: 8, SequenceNumber: 0x1234,
		Timestamp: 0xdeadbeef, SSRC: 0x01020304, HeaderLength: 12}
	if n != 12 || h != want {
		t.Fatalf("got n=%d %+v, want %+v", n, h, want)
	}
	if p := h.Payload(pcma); !bytes.Equal(p, pcma[12:]) {
		t.Fatalf("payload %x", p)
	}
}

func TestHeaderUnmarshalFull(t *testing.T) {
	// CC=2, X=1 (profile 0xBEDE, 1 word), P=1 (3 octets), payload "ab".
	pkt := []byte{
		0xb2, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
		0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0b, // CSRCs
		0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00, // extension
		'a', 'b', 0x00, 0x00, 0x03, // payload, padding
	}
	var h Header
	n, err := h.Unmarshal(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if n != 28 || h.HeaderLength != 28 || h.PaddingLength != 3 || !h.Padding || !h.Extension ||
		h.CSRCCount != 2 || h.CSRC[0] != 10 || h.CSRC[1] != 11 ||
		h.ExtensionProfile != 0xbede || h.ExtensionLength != 1 {
		t.Fatalf("got n=%d %+v", n, h)
	}
	if p := h.Payload(pkt); string(p) != "ab" {
		t.Fatalf("payload %q", p)
	}
}

func TestHeaderUnmarshalBad(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrShortPacket},
		{"11 octets", pcma[:11], ErrShortPacket},
		{"version 0", append([]byte{0x00}, pcma[1:]...), ErrVersion},
		{"version 1", append([]byte{0x40}, pcma[1:]...), ErrVersion},
		{"version 3", append([]byte{0xc0}, pcma[1:]...), ErrVersion},
		{"csrc past end", append([]byte{0x82}, pcma[1:]...), ErrCSRCOverflow},
		{"15 csrc, 12 octets", append([]byte{0x8f}, pcma[1:12]...), ErrCSRCOverflow},
		{"extension header missing", append([]byte{0x90}, pcma[1:14]...), ErrExtensionOverflow},
		{"extension length past end", append(append([]byte{0x90}, pcma[1:12]...), 0xbe, 0xde, 0x00, 0x02, 0, 0, 0, 0), ErrExtensionOverflow},
		{"extension length max", append(append([]byte{0x90}, pcma[1:12]...), 0x10, 0x00, 0xff, 0xff), ErrExtensionOverflow},
		{"padding zero", append(append([]byte{0xa0}, pcma[1:]...), 0x00), ErrPadding},
		{"padding past payload", append(append([]byte{0xa0}, pcma[1:]...), 0x06), ErrPadding},
		{"padding into header", append([]byte{0xa0}, pcma[1:12]...), ErrPadding},
		{"padding on bare header", []byte{0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff}, ErrPadding},
		{"padding eats extension", append(append([]byte{0xb0}, pcma[1:12]...), 0x10, 0x00, 0x00, 0x00, 0x02), ErrPadding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			n, err := h.Unmarshal(tt.pkt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if n != 0 {
				t.Fatalf("n = %d on error", n)
			}
		})
	}
}

func TestHeaderUnmarshalEdges(t *testing.T) {
	var h Header
	// Padding that covers the whole payload is valid.
	pkt := append(append([]byte{0xa0}, pcma[1:12]...), 0, 0, 3)
	if _, err := h.Unmarshal(pkt); err != nil || len(h.Payload(pkt)) != 0 || h.PaddingLength != 3 {
		t.Fatalf("err=%v %+v", err, h)
	}
	// Zero-length extension, no payload.
	pkt = append(append([]byte{0x90}, pcma[1:12]...), 0x10, 0x00, 0x00, 0x00)
	if n, err := h.Unmarshal(pkt); err != nil || n != 16 || len(h.Payload(pkt)) != 0 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	// A reused Header is fully overwritten by a simpler packet.
	if _, err := h.Unmarshal(pcma); err != nil || h.Extension || h.ExtensionProfile != 0 || h.PaddingLength != 0 {
		t.Fatalf("stale fields: %+v", h)
	}
}

func TestHeaderMarshalTo(t *testing.T) {
	h := Header{Marker: true, PayloadType: 0, SequenceNumber: 65535, Timestamp: 1, SSRC: 2,
		CSRCCount: 2, CSRC: [MaxCSRC]uint32{7, 8}}
	buf := make([]byte, h.MarshalSize())
	if n, err := h.MarshalTo(buf[:len(buf)-1]); !errors.Is(err, io.ErrShortBuffer) || n != 0 {
		t.Fatalf("short buffer: n=%d err=%v", n, err)
	}
	n, err := h.MarshalTo(buf)
	if err != nil || n != 20 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	var got Header
	if _, err := got.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	h.Version, h.HeaderLength = 2, 20
	if got != h {
		t.Fatalf("round trip: got %+v want %+v", got, h)
	}
	if _, err := (&Header{PayloadType: 128}).MarshalTo(buf); !errors.Is(err, ErrPayloadType) {
		t.Fatalf("payload type: %v", err)
	}
	if _, err := (&Header{CSRCCount: 16}).MarshalTo(make([]byte, 100)); !errors.Is(err, ErrCSRCCount) {
		t.Fatalf("csrc count: %v", err)
	}
}

// TestAgainstPion builds random valid packets with pion/rtp and checks that
// both parsers agree on every field.
func TestAgainstPion(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		p := pionrtp.Packet{Header: pionrtp.Header{
			Version:        2,
			Marker:         r.IntN(2) == 1,
			PayloadType:    uint8(r.IntN(128)),
			SequenceNumber: uint16(r.Uint32()),
			Timestamp:      r.Uint32(),
			SSRC:           r.Uint32(),
		}}
		for range r.IntN(MaxCSRC + 1) {
			p.CSRC = append(p.CSRC, r.Uint32())
		}
		switch r.IntN(4) {
		case 1: // RFC 8285 one-byte
			p.Extension, p.ExtensionProfile = true, pionrtp.ExtensionProfileOneByte
			if err := p.SetExtension(uint8(1+r.IntN(14)), randBytes(r, 1+r.IntN(16))); err != nil {
				t.Fatal(err)
			}
		case 2: // RFC 8285 two-byte
			p.Extension, p.ExtensionProfile = true, pionrtp.ExtensionProfileTwoByte
			if err := p.SetExtension(uint8(1+r.IntN(255)), randBytes(r, r.IntN(40))); err != nil {
				t.Fatal(err)
			}
		case 3: // RFC 3550 generic, whole words
			p.Extension, p.ExtensionProfile = true, uint16(r.IntN(0x1000))
			if err := p.SetExtension(0, randBytes(r, 4*r.IntN(8))); err != nil {
				t.Fatal(err)
			}
		}
		p.Payload = randBytes(r, r.IntN(200))
		if r.IntN(3) == 0 {
			p.Padding, p.PaddingSize = true, byte(1+r.IntN(255))
		}
		buf, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var want pionrtp.Packet
		if err := want.Unmarshal(buf); err != nil {
			t.Fatalf("packet %d: pion: %v", i, err)
		}
		var h Header
		if _, err := h.Unmarshal(buf); err != nil {
			t.Fatalf("packet %d: %v (% x)", i, err, buf)
		}
		if h.Version != want.Version || h.Padding != want.Padding || h.Extension != want.Extension ||
			h.Marker != want.Marker || h.PayloadType != want.PayloadType ||
			h.SequenceNumber != want.SequenceNumber || h.Timestamp != want.Timestamp || h.SSRC != want.SSRC ||
			int(h.CSRCCount) != len(want.CSRC) || h.PaddingLength != int(want.PaddingSize) ||
			(h.Extension && h.ExtensionProfile != want.ExtensionProfile) {
			t.Fatalf("packet %d: ours %+v, pion %+v", i, h, want.Header)
		}
		for j, c := range want.CSRC {
			if h.CSRC[j] != c {
				t.Fatalf("packet %d: CSRC %d: %x != %x", i, j, h.CSRC[j], c)
			}
		}
		if !bytes.Equal(h.Payload(buf), want.Payload) {
			t.Fatalf("packet %d: payload differs", i)
		}
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func FuzzHeaderUnmarshal(f *testing.F) {
	f.Add(pcma)
	f.Add(pcma[:11])
	f.Add([]byte{0xbf, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(append(append([]byte{0xb1}, pcma[1:]...), 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0, 0, 0, 2))
	f.Add(append(append([]byte{0xa0}, pcma[1:]...), 4))
	f.Fuzz(func(t *testing.T, buf []byte) {
		var h Header
		n, err := h.Unmarshal(buf)
		if err != nil {
			return
		}
		if n != h.HeaderLength || n < FixedHeaderSize || n+h.PaddingLength > len(buf) {
			t.Fatalf("n=%d len=%d %+v", n, len(buf), h)
		}
		_ = h.Payload(buf)
		// The fixed header and CSRCs re-marshal to the same octets.
		out := make([]byte, h.MarshalSize())
		m, err := h.MarshalTo(out)
		if err != nil || !bytes.Equal(out[:m], buf[:m]) {
			t.Fatalf("re-marshal: err=%v % x vs % x", err, out[:m], buf[:m])
		}
	})
}

func BenchmarkHeaderUnmarshal(b *testing.B) {
	pkt := make([]byte, 12+160)
	copy(pkt, pcma)
	var h Header
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeaderMarshalTo(b *testing.B) {
	h := Header{PayloadType: 8, SequenceNumber: 1, Timestamp: 2, SSRC: 3}
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.MarshalTo(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	var h Header
	sr := []byte{0x80, 200, 0, 6, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = h.Unmarshal(pcma)
		_, _ = h.Unmarshal(pcma[:3])
		_ = ValidateRTCP(sr)
		_ = ValidateRTCP(sr[:5])
		_ = IsRTCP(sr)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per parse", allocs)
	}
}

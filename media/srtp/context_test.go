package srtp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// rtpPacket is a PCMU packet of 160 octets of payload.
func rtpPacket(ssrc uint32, seq uint16) []byte {
	p := make([]byte, 12+160, 12+160+MaxTrailer)
	p[0], p[1] = 0x80, 0
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	for i := range 160 {
		p[12+i] = byte(seq) + byte(i)
	}
	return p
}

// rtcpPacket is a receiver report with one block.
func rtcpPacket(ssrc uint32) []byte {
	p := make([]byte, 32, 32+MaxTrailer)
	p[0], p[1] = 0x81, 201
	binary.BigEndian.PutUint16(p[2:], 7)
	binary.BigEndian.PutUint32(p[4:], ssrc)
	binary.BigEndian.PutUint32(p[8:], 0x12345678)
	return p
}

func pair(t testing.TB, s Suite) (*Outbound, *Inbound, Key) {
	t.Helper()
	k, err := GenerateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewOutbound(k)
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewInbound(k)
	if err != nil {
		t.Fatal(err)
	}
	return out, in, k
}

func TestRoundTripEverySuite(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			out, in, _ := pair(t, s)
			for seq := uint16(65530); seq != 10; seq++ { // across a rollover
				plain := rtpPacket(7, seq)
				enc, v := out.ProtectRTP(make([]byte, 0, 300), plain)
				if v != OK || len(enc) != len(plain)+s.RTPTrailer() {
					t.Fatalf("protect %d: %v, %d octets", seq, v, len(enc))
				}
				if bytes.Equal(enc[12:len(plain)], plain[12:]) {
					t.Fatal("payload not encrypted")
				}
				dec, v := in.UnprotectRTP(enc)
				if v != OK || !bytes.Equal(dec, plain) {
					t.Fatalf("unprotect %d: %v", seq, v)
				}
			}
			for range 3 {
				plain := rtcpPacket(7)
				enc, v := out.ProtectRTCP(make([]byte, 0, 100), plain)
				if v != OK || len(enc) != len(plain)+s.RTCPTrailer() {
					t.Fatalf("protect RTCP: %v, %d octets", v, len(enc))
				}
				dec, v := in.UnprotectRTCP(enc)
				if v != OK || !bytes.Equal(dec, plain) {
					t.Fatalf("unprotect RTCP: %v", v)
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	for _, s := range []Suite{AES128CMSHA1_80, AES128CMSHA1_32, AEADAES128GCM, AEADAES256GCM} {
		t.Run(s.String(), func(t *testing.T) {
			out, in, _ := pair(t, s)
			_, wrong, _ := pair(t, s)
			enc := func(seq uint16) []byte {
				b, v := out.ProtectRTP(nil, rtpPacket(9, seq))
				if v != OK {
					t.Fatal(v)
				}
				return b
			}
			first := enc(100)
			keep := append([]byte(nil), first...)
			if _, v := wrong.UnprotectRTP(append([]byte(nil), first...)); v != Unauthenticated {
				t.Errorf("wrong key: %v", v)
			}
			if _, v := in.UnprotectRTP(first); v != OK {
				t.Fatalf("first: %v", v)
			}
			if _, v := in.UnprotectRTP(append([]byte(nil), keep...)); v != Replayed {
				t.Errorf("replay: %v", v)
			}
			p := enc(101)
			if _, v := in.UnprotectRTP(p[:len(p)-1]); v != Unauthenticated {
				t.Errorf("truncated tag: %v", v)
			}
			if _, v := in.UnprotectRTP(p[:12]); v != Unauthenticated {
				t.Errorf("no tag: %v", v)
			}
			q := enc(102)
			q[20] ^= 1
			if _, v := in.UnprotectRTP(q); v != Unauthenticated {
				t.Errorf("altered payload: %v", v)
			}
			r := enc(103)
			r[1] ^= 1 // the header is authenticated too
			if _, v := in.UnprotectRTP(r); v != Unauthenticated {
				t.Errorf("altered header: %v", v)
			}
			// The window moves on; a packet further back than it is refused.
			old := enc(104)
			for seq := uint16(105); seq < 105+windowSize+2; seq++ {
				if _, v := in.UnprotectRTP(enc(seq)); v != OK {
					t.Fatalf("%d: %v", seq, v)
				}
			}
			if _, v := in.UnprotectRTP(old); v != Replayed {
				t.Errorf("too old: %v", v)
			}
			// Out of order within the window is fine.
			late := enc(300)
			if _, v := in.UnprotectRTP(enc(301)); v != OK {
				t.Fatal(v)
			}
			if _, v := in.UnprotectRTP(late); v != OK {
				t.Errorf("reordered: %v", v)
			}

			// SRTCP: wrong key, replay, truncated.
			c1, _ := out.ProtectRTCP(nil, rtcpPacket(9))
			c1copy := append([]byte(nil), c1...)
			if _, v := wrong.UnprotectRTCP(append([]byte(nil), c1...)); v != Unauthenticated {
				t.Errorf("RTCP wrong key: %v", v)
			}
			if _, v := in.UnprotectRTCP(c1); v != OK {
				t.Fatalf("RTCP: %v", v)
			}
			if _, v := in.UnprotectRTCP(c1copy); v != Replayed {
				t.Errorf("RTCP replay: %v", v)
			}
			c2, _ := out.ProtectRTCP(nil, rtcpPacket(9))
			if _, v := in.UnprotectRTCP(c2[:len(c2)-2]); v != Unauthenticated {
				t.Errorf("RTCP truncated: %v", v)
			}
		})
	}
}

// TestProtectOnce: an index is protected once; a duplicate from the plain side is
// refused, not sent under a reused nonce.
func TestProtectOnce(t *testing.T) {
	out, _, _ := pair(t, AEADAES128GCM)
	if _, v := out.ProtectRTP(nil, rtpPacket(1, 5)); v != OK {
		t.Fatal(v)
	}
	other := rtpPacket(1, 5)
	other[20] ^= 0xff
	if _, v := out.ProtectRTP(nil, other); v != Replayed {
		t.Errorf("same index again: %v", v)
	}
	for ssrc := uint32(2); ssrc <= maxStreams; ssrc++ {
		if _, v := out.ProtectRTP(nil, rtpPacket(ssrc, 1)); v != OK {
			t.Fatalf("ssrc %d: %v", ssrc, v)
		}
	}
	if _, v := out.ProtectRTP(nil, rtpPacket(99, 1)); v != Refused {
		t.Errorf("a stream beyond the table: %v", v)
	}
	if _, v := out.ProtectRTP(nil, rtpPacket(1, 6)); v != OK {
		t.Errorf("a known stream goes on: %v", v)
	}
}

func TestAllocs(t *testing.T) {
	for _, s := range []Suite{AES128CMSHA1_80, AEADAES128GCM} {
		out, in, _ := pair(t, s)
		_, wrong, _ := pair(t, s)
		buf := make([]byte, 0, 300)
		seq := uint16(0)
		plain := rtpPacket(3, 0)
		rt := rtcpPacket(3)
		one := func() {
			seq++
			binary.BigEndian.PutUint16(plain[2:], seq)
			enc, v := out.ProtectRTP(buf, plain)
			if v != OK {
				t.Fatal(v)
			}
			if _, v := in.UnprotectRTP(enc); v != OK {
				t.Fatal(v)
			}
			if _, v := in.UnprotectRTP(enc); v != Replayed { // decrypted in place: replayed by index first
				t.Fatal(v)
			}
			enc, _ = out.ProtectRTCP(buf, rt)
			if _, v := in.UnprotectRTCP(enc); v != OK {
				t.Fatal(v)
			}
		}
		one()
		if n := testing.AllocsPerRun(200, one); n != 0 {
			t.Errorf("%v: %.1f allocations per packet", s, n)
		}
		// A forged packet of the stream being received: with AES-CM the refusal costs no
		// allocation; pion wraps AES-GCM's in an error value, and makes a state for a
		// packet of an SSRC it has not authenticated yet (the relay's rate gate bounds
		// both).
		forged := func() {
			seq++
			binary.BigEndian.PutUint16(plain[2:], seq)
			enc, _ := out.ProtectRTP(buf, plain)
			enc[len(enc)-1] ^= 1
			if _, v := in.UnprotectRTP(enc); v != Unauthenticated {
				t.Fatal(v)
			}
		}
		forged()
		n := testing.AllocsPerRun(200, forged)
		unknown := testing.AllocsPerRun(200, func() {
			seq++
			binary.BigEndian.PutUint16(plain[2:], seq)
			enc, _ := out.ProtectRTP(buf, plain)
			wrong.UnprotectRTP(enc)
		})
		t.Logf("%v: %.0f allocations per forged packet, %.0f per packet of an unknown SSRC", s, n, unknown)
		if s == AES128CMSHA1_80 && n != 0 {
			t.Errorf("%v: %.1f allocations per forged packet", s, n)
		}
	}
}

func FuzzUnprotectRTP(f *testing.F) {
	out, _, k := pair(f, AES128CMSHA1_80)
	for seq := range uint16(3) {
		p, _ := out.ProtectRTP(nil, rtpPacket(1, seq))
		f.Add(p)
	}
	c, _ := out.ProtectRTCP(nil, rtcpPacket(1))
	f.Add(c)
	f.Add([]byte{0x80})
	in, err := NewInbound(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if dec, v := in.UnprotectRTP(append([]byte(nil), b...)); v == OK && len(dec) != len(b)-10 {
			t.Fatalf("%d octets out of %d", len(dec), len(b))
		}
		in.UnprotectRTCP(append([]byte(nil), b...))
	})
}

func benchSuite(b *testing.B, s Suite) {
	out, in, _ := pair(b, s)
	plain := rtpPacket(3, 0)
	buf := make([]byte, 0, 300)
	b.ReportAllocs()
	b.SetBytes(int64(len(plain)))
	for i := range b.N {
		binary.BigEndian.PutUint16(plain[2:], uint16(i))
		enc, v := out.ProtectRTP(buf, plain)
		if _, w := in.UnprotectRTP(enc); v != OK || w != OK {
			b.Fatal(v, w)
		}
	}
}

// BenchmarkProtectUnprotect is one packet protected and unprotected: what a relay pays
// per packet with SRTP on both legs.
func BenchmarkProtectUnprotect(b *testing.B) {
	for _, s := range []Suite{AES128CMSHA1_80, AES128CMSHA1_32, AEADAES128GCM, AEADAES256GCM} {
		b.Run(s.String(), func(b *testing.B) { benchSuite(b, s) })
	}
}

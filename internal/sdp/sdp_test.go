package sdp

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var hush = netip.MustParseAddr("192.0.2.99")

func TestParseShapes(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name   string
		body   string
		n      int // m= lines
		remote netip.AddrPort
		rtcp   netip.AddrPort
		mux    bool
		codecs map[uint8]string
		dir    Direction
		ice    bool
		secure bool
		rtp    bool
	}{
		{"sipp", shapeSipp, 1, ap("192.0.2.1:6000"), netip.AddrPort{}, false, map[uint8]string{0: "PCMU"}, SendRecv, false, false, true},
		{"kamailio+rtpengine", shapeKamailioRtpengine, 1, ap("192.0.2.50:30010"), ap("192.0.2.50:30011"), false,
			map[uint8]string{8: "PCMA", 0: "PCMU", 101: "telephone-event"}, SendRecv, false, false, true},
		{"freeswitch", shapeFreeSWITCH, 1, ap("198.51.100.10:16384"), ap("198.51.100.10:16385"), false,
			map[uint8]string{9: "G722", 0: "PCMU", 8: "PCMA", 101: "telephone-event", 13: "CN"}, SendRecv, false, false, true},
		{"asterisk", shapeAsterisk, 1, ap("198.51.100.20:10000"), netip.AddrPort{}, false,
			map[uint8]string{0: "PCMU", 8: "PCMA", 3: "GSM", 101: "telephone-event"}, SendRecv, false, false, true},
		{"cube", shapeCUBE, 1, ap("203.0.113.20:16482"), netip.AddrPort{}, false,
			map[uint8]string{0: "PCMU", 101: "telephone-event", 19: "CN"}, SendRecv, false, false, true},
		{"twilio", shapeTwilio, 1, ap("192.0.2.200:16254"), netip.AddrPort{}, false,
			map[uint8]string{0: "PCMU", 101: "telephone-event"}, SendRecv, false, false, true},
		{"webrtc", shapeWebRTC, 2, ap("0.0.0.0:9"), ap("0.0.0.0:9"), true,
			map[uint8]string{111: "opus", 0: "PCMU", 8: "PCMA", 126: "telephone-event"}, SendRecv, true, true, false},
		{"video phone ipv6", shapeVideoPhone6, 2, ap("[2001:db8::10]:5004"), netip.AddrPort{}, true,
			map[uint8]string{0: "PCMU", 101: "telephone-event"}, SendRecv, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Media) != tc.n {
				t.Fatalf("%d m= lines", len(d.Media))
			}
			m := &d.Media[0]
			if m.Type != "audio" || m.Remote() != tc.remote || m.RTCP != tc.rtcp || m.RTCPMux != tc.mux ||
				m.Direction != tc.dir || m.ICE != tc.ice || m.Secure != tc.secure || m.IsRTP() != tc.rtp {
				t.Fatalf("%+v", *m)
			}
			if !maps.Equal(m.Codecs, tc.codecs) {
				t.Fatalf("codecs %v", m.Codecs)
			}
		})
	}
}

func TestParseHoldAndDirections(t *testing.T) {
	d, err := Parse([]byte(shapeCUBEHoldZero))
	if err != nil {
		t.Fatal(err)
	}
	if m := d.Media[0]; !m.Held() || m.Remote().Addr() != netip.IPv4Unspecified() {
		t.Fatalf("zero-address hold not seen: %+v", m)
	}
	for _, dir := range []Direction{SendOnly, RecvOnly, Inactive} {
		d, err := Parse([]byte(strings.Replace(shapeTwilio, "a=sendrecv", "a="+dir.String(), 1)))
		if err != nil || d.Media[0].Direction != dir || d.Media[0].Held() {
			t.Fatalf("%v: %+v %v", dir, d.Media[0], err)
		}
	}
	// A session-level direction applies where a section has none.
	d, err = Parse([]byte(strings.Replace(shapeSipp, "t=0 0\r\n", "t=0 0\r\na=inactive\r\n", 1)))
	if err != nil || d.Media[0].Direction != Inactive {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = Parse([]byte(shapeVideoPhone6))
	if err != nil || d.Media[1].Direction != RecvOnly || d.Media[1].Type != "video" || d.Media[1].Codecs[97] != "H264" {
		t.Fatalf("%+v %v", d.Media[1], err)
	}
}

// lines splits a body into its lines without line endings.
func lines(b string) []string {
	return strings.Split(strings.TrimRight(strings.ReplaceAll(b, "\r\n", "\n"), "\n"), "\n")
}

// touched reports the lines of in that are missing from out, and the lines of out that
// were not in in: what a rewrite changed.
func touched(in, out string) (removed, added []string) {
	a, b := lines(in), lines(out)
	for _, l := range a {
		if !slices.Contains(b, l) {
			removed = append(removed, l)
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			added = append(added, l)
		}
	}
	return removed, added
}

// ports gives every m= line the same endpoint.
func ports(n int, ep Endpoint) []Endpoint {
	out := make([]Endpoint, n)
	for i := range out {
		out[i] = ep
	}
	return out
}

func TestMarshalRewritesOnlyAddressesAndPorts(t *testing.T) {
	ep := Endpoint{Port: 40000, RTCPPort: 40001}
	for _, tc := range []struct {
		name, body     string
		rw             Rewrite
		removed, added []string
	}{
		{"sipp", shapeSipp, Rewrite{Addr: hush, Media: ports(1, ep)},
			[]string{"c=IN IP4 192.0.2.1", "m=audio 6000 RTP/AVP 0"},
			[]string{"c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 0"}},
		{"sipp with origin", shapeSipp, Rewrite{Addr: hush, Media: ports(1, ep), Origin: true},
			[]string{"o=user1 53655765 2353687637 IN IP4 192.0.2.1", "c=IN IP4 192.0.2.1", "m=audio 6000 RTP/AVP 0"},
			[]string{"o=user1 53655765 2353687637 IN IP4 192.0.2.99", "c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 0"}},
		{"kamailio short a=rtcp", shapeKamailioRtpengine, Rewrite{Addr: hush, Media: ports(1, ep)},
			[]string{"c=IN IP4 192.0.2.50", "m=audio 30010 RTP/AVP 8 0 101", "a=rtcp:30011"},
			[]string{"c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 8 0 101", "a=rtcp:40001"}},
		{"freeswitch long a=rtcp", shapeFreeSWITCH, Rewrite{Addr: hush, Media: ports(1, ep)},
			[]string{"c=IN IP4 198.51.100.10", "m=audio 16384 RTP/AVP 9 0 8 101 13", "a=rtcp:16385 IN IP4 198.51.100.10"},
			[]string{"c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 9 0 8 101 13", "a=rtcp:40001 IN IP4 192.0.2.99"}},
		{"asterisk, rtcp attribute added", shapeAsterisk, Rewrite{Addr: hush, Media: ports(1, ep), RTCP: RTCPFull},
			[]string{"c=IN IP4 198.51.100.20", "m=audio 10000 RTP/AVP 0 8 3 101"},
			[]string{"c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 0 8 3 101", "a=rtcp:40001 IN IP4 192.0.2.99"}},
		{"cube media-level c=", shapeCUBE, Rewrite{Addr: hush, Media: ports(1, ep)},
			[]string{"c=IN IP4 203.0.113.20", "m=audio 16482 RTP/AVP 0 101 19", "c=IN IP4 203.0.113.20"},
			[]string{"c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 0 101 19", "c=IN IP4 192.0.2.99"}},
		{"cube zero hold kept", shapeCUBEHoldZero, Rewrite{Addr: hush, Media: ports(1, ep)},
			[]string{"m=audio 16482 RTP/AVP 0 101 19"}, []string{"m=audio 40000 RTP/AVP 0 101 19"}},
		{"cube zero hold replaced", shapeCUBEHoldZero, Rewrite{Addr: hush, Media: ports(1, ep), ZeroAddress: true},
			[]string{"c=IN IP4 0.0.0.0", "m=audio 16482 RTP/AVP 0 101 19", "c=IN IP4 0.0.0.0"},
			[]string{"c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 0 101 19", "c=IN IP4 192.0.2.99"}},
		{"twilio, rtcp-mux offered", shapeTwilio, Rewrite{Addr: hush, Media: []Endpoint{{Port: 40000, RTCPPort: 40001, RTCPMux: MuxAdd}}},
			[]string{"c=IN IP4 192.0.2.200", "m=audio 16254 RTP/AVP 0 101"},
			[]string{"c=IN IP4 192.0.2.99", "m=audio 40000 RTP/AVP 0 101", "a=rtcp-mux"}},
		{"video phone: audio relayed, video refused, rtcp-mux removed", shapeVideoPhone6,
			Rewrite{Addr: netip.MustParseAddr("2001:db8::99"), Media: []Endpoint{{Port: 40000, RTCPPort: 40001, RTCPMux: MuxRemove}, {}}},
			[]string{"c=IN IP6 2001:db8::10", "m=audio 5004 RTP/AVP 0 101", "a=rtcp-mux", "m=video 5006 RTP/AVP 97"},
			[]string{"c=IN IP6 2001:db8::99", "m=audio 40000 RTP/AVP 0 101", "m=video 0 RTP/AVP 97"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			out, err := d.Marshal(tc.rw)
			if err != nil {
				t.Fatal(err)
			}
			removed, added := touched(tc.body, string(out))
			if !slices.Equal(removed, tc.removed) || !slices.Equal(added, tc.added) {
				t.Fatalf("removed %q\nadded %q\nout:\n%s", removed, added, out)
			}
			// Order is kept: the unchanged lines appear in the same order.
			var keptIn, keptOut []string
			for _, l := range lines(tc.body) {
				if !slices.Contains(removed, l) {
					keptIn = append(keptIn, l)
				}
			}
			for _, l := range lines(string(out)) {
				if !slices.Contains(added, l) {
					keptOut = append(keptOut, l)
				}
			}
			if !slices.Equal(keptIn, keptOut) {
				t.Fatalf("order changed:\n%q\n%q", keptIn, keptOut)
			}
			// What comes out parses, and points where it was told.
			again, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if p := again.Media[0].Port; p != int(tc.rw.Media[0].Port) {
				t.Fatalf("port %d", p)
			}
		})
	}
}

func TestMarshalStripsICE(t *testing.T) {
	d, err := Parse([]byte(shapeWebRTC))
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Marshal(Rewrite{Addr: hush, Media: ports(2, Endpoint{Port: 40000, RTCPPort: 40001}), StripICE: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(out)) {
		for k := range iceAttributes {
			if strings.HasPrefix(l, "a="+k) {
				t.Fatalf("ICE attribute left: %s", l)
			}
		}
	}
	again, err := Parse(out)
	if err != nil || again.Media[0].ICE || again.Media[1].ICE {
		t.Fatalf("%v %+v", err, again)
	}
	// Everything else of the audio section is still there, in order.
	for _, keep := range []string{"a=fingerprint:sha-256", "a=setup:actpass", "a=mid:0", "a=rtpmap:111 opus/48000/2",
		"a=fmtp:111 minptime=10;useinbandfec=1", "a=ssrc:1001 cname:abcdefgh", "a=msid-semantic: WMS stream", "a=group:BUNDLE 0 1"} {
		if !strings.Contains(string(out), keep) {
			t.Fatalf("%q lost:\n%s", keep, out)
		}
	}
	// Without StripICE the candidates stay (the caller decides).
	out, _ = d.Marshal(Rewrite{Addr: hush, Media: ports(2, Endpoint{Port: 40000, RTCPPort: 40001})})
	if !strings.Contains(string(out), "a=candidate:") {
		t.Fatal("candidate removed without StripICE")
	}
}

func TestMarshalAddsConnectionWhereNone(t *testing.T) {
	// A session with c= only in the sections; the section hush relays keeps its own line.
	body := crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 5000 RTP/AVP 0", "c=IN IP4 192.0.2.1")
	d, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Marshal(Rewrite{Addr: hush, Media: ports(1, Endpoint{Port: 40000, RTCPPort: 40001}), RTCP: RTCPOmit})
	if err != nil || !strings.Contains(string(out), "m=audio 40000 RTP/AVP 0\r\nc=IN IP4 192.0.2.99\r\n") {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := d.Marshal(Rewrite{Addr: hush}); err == nil {
		t.Fatal("endpoint count not checked")
	}
	if _, err := d.Marshal(Rewrite{Media: ports(1, Endpoint{})}); !errors.Is(err, ErrAddress) {
		t.Fatalf("no address: %v", err)
	}
}

func TestParseBadInput(t *testing.T) {
	big := shapeSipp + strings.Repeat("a=x-pad:0123456789012345678901234567890123456789\r\n", 2000)
	manyMedia := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" + strings.Repeat("m=audio 5000 RTP/AVP 0\r\n", 20)
	for _, tc := range []struct {
		name, body string
		want       error
	}{
		{"empty", "", ErrParse},
		{"not sdp", "hello world", ErrParse},
		{"no version", "o=- 1 1 IN IP4 192.0.2.1\r\n", ErrParse},
		{"too large", big, ErrParse},
		{"too many m= lines", manyMedia, ErrParse},
		{"host name in c=", strings.Replace(shapeSipp, "c=IN IP4 192.0.2.1", "c=IN IP4 pbx.example.com", 1), ErrAddress},
		{"family mismatch in c=", strings.Replace(shapeSipp, "c=IN IP4 192.0.2.1", "c=IN IP4 2001:db8::1", 1), ErrAddress},
		{"zone in c=", strings.Replace(shapeSipp, "c=IN IP4 192.0.2.1", "c=IN IP6 fe80::1%eth0", 1), ErrAddress},
		{"port out of range", strings.Replace(shapeSipp, "m=audio 6000", "m=audio 70000", 1), ErrParse},
		{"payload type out of range", strings.Replace(shapeSipp, "RTP/AVP 0", "RTP/AVP 200", 1), ErrParse},
		{"payload type not a number", strings.Replace(shapeSipp, "RTP/AVP 0", "RTP/AVP x", 1), ErrParse},
		{"bad rtpmap", strings.Replace(shapeSipp, "a=rtpmap:0 PCMU/8000", "a=rtpmap:zero PCMU/8000", 1), ErrParse},
		{"rtpmap without name", strings.Replace(shapeSipp, "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 /8000", 1), ErrParse},
		{"bad a=rtcp", strings.Replace(shapeKamailioRtpengine, "a=rtcp:30011", "a=rtcp:port", 1), ErrParse},
		{"a=rtcp host name", strings.Replace(shapeFreeSWITCH, "a=rtcp:16385 IN IP4 198.51.100.10", "a=rtcp:16385 IN IP4 fs.example", 1), ErrAddress},
		{"t38 fax (m=image)", shapeCUBEFax, ErrParse},
		{"unknown network type", strings.Replace(shapeSipp, "c=IN IP4", "c=XX IP4", 1), ErrParse},
		{"binary", "v=0\r\n\x00\x01\x02", ErrParse},
		// Found by FuzzParse: pion's parser takes these, and would write a body that no
		// parser reads back.
		{"no v= line", "0", ErrParse},
		{"o= fields missing", "v=0\r\no=0\r\ns=-\r\nt=0 0\r\n", ErrParse},
		{"bare CR inside a line", strings.Replace(shapeSipp, "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 \rPCMU/8000", 1), ErrParse},
	} {
		if _, err := Parse([]byte(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{shapeSipp, shapeKamailioRtpengine, shapeFreeSWITCH, shapeAsterisk, shapeCUBE,
		shapeCUBEHoldZero, shapeCUBEFax, shapeTwilio, shapeWebRTC, shapeVideoPhone6} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrParse) && !errors.Is(err, ErrAddress) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		// Whatever parses can be rewritten, and the rewrite parses with the same shape.
		out, err := d.Marshal(Rewrite{Addr: hush, Media: ports(len(d.Media), Endpoint{Port: 40000, RTCPPort: 40001}), StripICE: true})
		if err != nil {
			if !errors.Is(err, ErrParse) && !errors.Is(err, ErrAddress) {
				t.Fatalf("marshal error wraps no sentinel: %v", err)
			}
			return
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("rewrite does not parse: %v\n%q", err, out)
		}
		if len(again.Media) != len(d.Media) {
			t.Fatalf("m= lines %d -> %d", len(d.Media), len(again.Media))
		}
	})
}

func BenchmarkParseMarshal(b *testing.B) {
	body := []byte(shapeFreeSWITCH)
	rw := Rewrite{Addr: hush, Media: ports(1, Endpoint{Port: 40000, RTCPPort: 40001})}
	b.ReportAllocs()
	for b.Loop() {
		d, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Marshal(rw); err != nil {
			b.Fatal(err)
		}
	}
}

package rtp

import (
	"errors"
	"testing"
)

// rr is an empty receiver report (RFC 3550 section 6.4.2): 8 octets.
var rr = []byte{0x80, 201, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44}

// sdes is an SDES with one CNAME "ab" chunk, 12 octets.
var sdes = []byte{0x81, 202, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x01, 0x02, 'a', 'b'}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestValidateRTCP(t *testing.T) {
	padded := cat([]byte{0xa0, 203, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44}, []byte{0, 0, 0, 4}) // BYE + 4 padding
	good := map[string][]byte{
		"rr":                  rr,
		"rr+sdes":             cat(rr, sdes),
		"rr+sdes+padded bye":  cat(rr, sdes, padded),
		"reduced-size (psfb)": {0x81, 206, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8},
		"app type 204":        {0x80, 204, 0x00, 0x02, 1, 2, 3, 4, 'n', 'a', 'm', 'e'},
	}
	for name, pkt := range good {
		if err := ValidateRTCP(pkt); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateRTCPBad(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrRTCPShort},
		{"3 octets", rr[:3], ErrRTCPShort},
		{"trailing 2 octets", cat(rr, []byte{0x80, 201}), ErrRTCPShort},
		{"version 1", cat([]byte{0x40}, rr[1:]), ErrRTCPVersion},
		{"second packet version 0", cat(rr, []byte{0x00}, sdes[1:]), ErrRTCPVersion},
		{"type 191", cat([]byte{0x80, 191}, rr[2:]), ErrRTCPType},
		{"type 224", cat([]byte{0x80, 224}, rr[2:]), ErrRTCPType},
		{"rtp-looking (type 8)", pcma, ErrRTCPType},
		{"length past end", cat([]byte{0x80, 201, 0x00, 0x02}, rr[4:]), ErrRTCPLength},
		{"length max", []byte{0x80, 201, 0xff, 0xff}, ErrRTCPLength},
		{"length short of end", cat([]byte{0x80, 201, 0x00, 0x00}, rr[4:7]), ErrRTCPShort},
		{"length short, garbage follows", cat([]byte{0x80, 201, 0x00, 0x00}, rr[4:]), ErrRTCPVersion},
		{"padding not last", cat([]byte{0xa0}, rr[1:7], []byte{1}, sdes), ErrRTCPPadding},
		{"padding zero", cat([]byte{0xa0}, rr[1:7], []byte{0}), ErrRTCPPadding},
		{"padding into header", cat([]byte{0xa0}, rr[1:7], []byte{5}), ErrRTCPPadding},
		{"padding on bare header", []byte{0xa0, 201, 0x00, 0x00}, ErrRTCPPadding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateRTCP(tt.pkt); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIsRTCP(t *testing.T) {
	tests := []struct {
		b1   byte
		want bool
	}{
		{0x00, false}, {0x08, false}, {0x88, false}, {0x65, false}, // RTP PT 0, 8, 8+M, 101
		{191, false}, {192, true}, {200, true}, {201, true}, {223, true}, {224, false},
		{0xe0 | 0x7f, false}, // PT 127 + M
	}
	for _, tt := range tests {
		if got := IsRTCP([]byte{0x80, tt.b1}); got != tt.want {
			t.Errorf("IsRTCP(second octet %d) = %v", tt.b1, got)
		}
	}
	if IsRTCP([]byte{0x80}) || IsRTCP(nil) {
		t.Error("short buffer reported as RTCP")
	}
}

func FuzzValidateRTCP(f *testing.F) {
	f.Add(rr)
	f.Add(cat(rr, sdes))
	f.Add([]byte{0xa0, 203, 0x00, 0x01, 0, 0, 0, 4})
	f.Add([]byte{0x80, 201, 0xff, 0xff})
	f.Add(pcma)
	f.Fuzz(func(t *testing.T, buf []byte) {
		if ValidateRTCP(buf) != nil {
			return
		}
		// Accepted: a non-empty whole number of words, every packet V=2
		// with an RTCP type, so mux demux classifies it as RTCP.
		if len(buf) < RTCPHeaderSize || len(buf)%4 != 0 || !IsRTCP(buf) {
			t.Fatalf("accepted % x", buf)
		}
	})
}

func BenchmarkValidateRTCP(b *testing.B) {
	pkt := cat(rr, sdes)
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateRTCP(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

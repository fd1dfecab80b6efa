package loadgen

import (
	"errors"
	"reflect"
	"testing"
)

func TestBencodeRoundTrip(t *testing.T) {
	v := map[string]any{
		"command": "offer",
		"sdp":     "v=0\r\n",
		"flags":   []any{"trust-address", int64(-3)},
		"replace": []any{},
		"n":       int64(0),
		"nested":  map[string]any{"a": []any{map[string]any{}}},
	}
	b, err := AppendBencode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	// Keys are sorted (BEP 3).
	want := "d7:command5:offer5:flagsl13:trust-addressi-3ee1:ni0e6:nestedd1:aldeee7:replacele3:sdp5:v=0\r\ne"
	if string(b) != want {
		t.Fatalf("encoded\n%q\nwant\n%q", b, want)
	}
	got, err := DecodeBencode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("decoded %#v", got)
	}
}

func TestBencodeEncodeTypes(t *testing.T) {
	b, err := AppendBencode(nil, map[string]any{"s": []string{"x"}, "b": []byte("yz"), "i": 7})
	if err != nil || string(b) != "d1:b2:yz1:ii7e1:sl1:xee" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := AppendBencode(nil, 1.5); !errors.Is(err, ErrBencode) {
		t.Fatalf("float: %v", err)
	}
	if _, err := AppendBencode(nil, []any{struct{}{}}); !errors.Is(err, ErrBencode) {
		t.Fatalf("struct in list: %v", err)
	}
}

func TestBencodeBadInput(t *testing.T) {
	deep := ""
	for i := 0; i < 100; i++ {
		deep += "l"
	}
	for _, in := range []string{
		"", "x", "i", "ie", "i-e", "i-0e", "i03e", "i1x2e", "i99999999999999999999e",
		"5:abc", "-1:a", "01:a", "99999999999:a", ":a", "3", "l", "li1e", "d", "d1:a",
		"di1ei2ee", "d1:ai1e1:ai2ee", "d1:ae", "i1ei2e", "4:spamx", deep, "e",
	} {
		if v, err := DecodeBencode([]byte(in)); !errors.Is(err, ErrBencode) {
			t.Errorf("%q: got %#v, %v; want ErrBencode", in, v, err)
		}
	}
}

func FuzzDecodeBencode(f *testing.F) {
	for _, s := range []string{
		"d6:result2:ok3:sdp5:v=0\r\ne", "li1ei-2e0:e", "d1:ad1:bl1:ceee", "i0e", "4:spam", "le", "de",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeBencode(b)
		if err != nil {
			if !errors.Is(err, ErrBencode) {
				t.Fatalf("error not ErrBencode: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes to a value that decodes the same.
		enc, err := AppendBencode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := DecodeBencode(enc)
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("re-decode %#v vs %#v: %v", v, v2, err)
		}
	})
}

func BenchmarkDecodeBencode(b *testing.B) {
	msg := []byte("d6:result2:ok3:sdp122:v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\ne")
	if _, err := DecodeBencode(msg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DecodeBencode(msg)
	}
}

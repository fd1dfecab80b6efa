package ng

import (
	"errors"
	"reflect"
	"strings"
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
	b, err := AppendBencode(nil, map[string]any{"s": []string{"x"}, "b": []byte("yz"), "i": 7,
		"m": map[string]string{"k": "v"}})
	if err != nil || string(b) != "d1:b2:yz1:ii7e1:md1:k1:ve1:sl1:xee" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := AppendBencode(nil, 1.5); !errors.Is(err, ErrBencode) {
		t.Fatalf("float: %v", err)
	}
	if _, err := AppendBencode(nil, []any{struct{}{}}); !errors.Is(err, ErrBencode) {
		t.Fatalf("struct in list: %v", err)
	}
	if _, err := AppendBencode(nil, map[string]any{"a": nil}); !errors.Is(err, ErrBencode) {
		t.Fatalf("nil in dict: %v", err)
	}
}

// TestBencodeDecodesClientShapes decodes dictionaries as real clients send them: keys out
// of order (Kamailio's rtpengine module does not sort), lists of flags, integers.
func TestBencodeDecodesClientShapes(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     any
	}{
		// Kamailio 5.6 rtpengine module, rtpengine_manage("trust-address ICE=remove"):
		// "supports" first, then the parsed flags, the SIP identifiers and the command.
		{"kamailio offer", "d8:supportsl10:load limite3:ICE6:remove5:flagsl13:trust-addresse7:call-id9:1-1@hosta8:from-tag3:abc7:command5:offere",
			map[string]any{"supports": []any{"load limit"}, "ICE": "remove", "flags": []any{"trust-address"},
				"call-id": "1-1@hosta", "from-tag": "abc", "command": "offer"}},
		// rtpengine's protocol document: { "command": "ping" }.
		{"ping", "d7:command4:pinge", map[string]any{"command": "ping"}},
		// list's limit is an integer.
		{"list", "d7:command4:list5:limiti5ee", map[string]any{"command": "list", "limit": int64(5)}},
		{"empty string value", "d1:a0:e", map[string]any{"a": ""}},
		{"binary string", "3:\x00\xff\n", "\x00\xff\n"},
		{"negative", "i-42e", int64(-42)},
		{"max int64", "i9223372036854775807e", int64(9223372036854775807)},
	} {
		got, err := DecodeBencode([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, %v", tc.name, got, err)
		}
	}
}

func TestBencodeBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""}, {"junk", "x"}, {"lone i", "i"}, {"empty int", "ie"}, {"minus only", "i-e"},
		{"negative zero", "i-0e"}, {"leading zero", "i03e"}, {"letters in int", "i1x2e"},
		{"int overflow", "i99999999999999999999e"}, {"int far too long", "i" + strings.Repeat("1", 40) + "e"},
		{"short string", "5:abc"}, {"negative length", "-1:a"}, {"leading zero length", "01:a"},
		{"huge length", "99999999999:a"}, {"no length", ":a"}, {"no colon", "3"}, {"length with sign", "+1:a"},
		{"unterminated list", "l"}, {"unterminated list item", "li1e"}, {"unterminated dict", "d"},
		{"dict missing value", "d1:a"}, {"int key", "di1ei2ee"}, {"repeated key", "d1:ai1e1:ai2ee"},
		{"key without value", "d1:ae"}, {"two values", "i1ei2e"}, {"trailing bytes", "4:spamx"},
		{"too deep", strings.Repeat("l", 100) + strings.Repeat("e", 100)}, {"lone e", "e"},
		{"too many list items", "l" + strings.Repeat("i0e", maxElements+1) + "e"},
	} {
		if v, err := DecodeBencode([]byte(tc.in)); !errors.Is(err, ErrBencode) {
			t.Errorf("%s: %q: got %#v, %v; want ErrBencode", tc.name, tc.in, v, err)
		}
	}
}

func FuzzDecodeBencode(f *testing.F) {
	for _, s := range []string{
		"d6:result2:ok3:sdp5:v=0\r\ne", "li1ei-2e0:e", "d1:ad1:bl1:ceee", "i0e", "4:spam", "le", "de",
		"d8:supportsl10:load limite5:flagsl13:trust-addresse7:command5:offere",
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

package ng

import (
	"errors"
	"testing"
)

func TestParseMessage(t *testing.T) {
	// rtpengine's protocol document: "5323_1 d7:command4:pinge".
	ck, d, err := ParseMessage([]byte("5323_1 d7:command4:pinge"))
	if err != nil || ck != "5323_1" || d["command"] != "ping" {
		t.Fatalf("%q %v %v", ck, d, err)
	}
	out, err := AppendMessage(nil, "5323_1", map[string]any{"result": "pong"})
	if err != nil || string(out) != "5323_1 d6:result4:ponge" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestParseMessageBad(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		want       error
		wantCookie string
	}{
		{"empty", "", ErrMessage, ""},
		{"no space", "d7:command4:pinge", ErrMessage, ""},
		{"leading space", " d7:command4:pinge", ErrMessage, ""},
		{"cookie too long", string(make([]byte, 100)) + " de", ErrMessage, ""},
		{"control byte in cookie", "a\x01b de", ErrMessage, ""},
		{"not bencode", "c1 {\"command\":\"ping\"}", ErrBencode, "c1"},
		{"a list", "c1 le", ErrBencode, "c1"},
		{"truncated", "c1 d7:command4:pi", ErrBencode, "c1"},
	} {
		ck, _, err := ParseMessage([]byte(tc.in))
		if !errors.Is(err, tc.want) || ck != tc.wantCookie {
			t.Errorf("%s: cookie %q, %v; want %q, %v", tc.name, ck, err, tc.wantCookie, tc.want)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("5323_1 d7:command4:pinge"))
	f.Add([]byte("0_1_2 d8:supportsl10:load limite7:command6:deletee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, d, err := ParseMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBencode) && !errors.Is(err, ErrMessage) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if ck == "" || d == nil {
			t.Fatalf("ok without cookie or dict")
		}
	})
}

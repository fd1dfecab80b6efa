package ng

import (
	"errors"
	"strings"
	"testing"
)

func TestRTPPFlagsShapes(t *testing.T) {
	// The examples of rtpengine's ng_control_protocol.md.
	r := newRequest(map[string]any{}, kamailio)
	err := r.mergeRTPPFlags("replace-origin via-branch=auto-next strict-source label=callee OSRTP-accept transport-protocol=RTP/AVP address-family=IP4")
	if err != nil {
		t.Fatal(err)
	}
	if r.keys["label"] != "callee" || r.keys["transport protocol"] != "RTP/AVP" || !r.flags["strict source"] ||
		len(r.keys["replace"].([]any)) != 1 || !r.flags["osrtp accept"] {
		t.Fatalf("%v %v", r.keys, r.flags)
	}
	r = newRequest(map[string]any{}, kamailio)
	if err := r.mergeRTPPFlags("via-branch=auto-next OSRTP=[accept] codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR] strip=[EVS]]"); err != nil {
		t.Fatal(err)
	}
	codec := r.keys["codec"].(map[string]any)
	if len(codec["transcode"].([]any)) != 2 || r.keys["osrtp"].([]any)[0] != "accept" {
		t.Fatalf("%v", r.keys)
	}
	// The dictionary's own keys win.
	r = newRequest(map[string]any{"label": "customer"}, kamailio)
	_ = r.mergeRTPPFlags("label=agent")
	if r.keys["label"] != "customer" {
		t.Fatalf("%v", r.keys)
	}
}

func TestRTPPFlagsBad(t *testing.T) {
	for _, in := range []string{
		"a=[b", "a]", "]", "[a]", "=a", "a=[b=[c=[d=[e=[f=[g]]]]]]", strings.Repeat("x", maxRTPPFlags+1), "a=[b]]",
	} {
		r := newRequest(map[string]any{}, kamailio)
		if err := r.mergeRTPPFlags(in); !errors.Is(err, ErrField) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func FuzzRTPPFlags(f *testing.F) {
	f.Add("replace-origin via-branch=auto-next strict-source label=callee")
	f.Add("codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR] strip=[EVS]]")
	f.Add("a=[b c] d=e f")
	f.Fuzz(func(t *testing.T, s string) {
		r := newRequest(map[string]any{}, kamailio)
		if err := r.mergeRTPPFlags(s); err != nil && !errors.Is(err, ErrField) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		// Whatever it produced encodes as bencode, as a decoded dictionary would.
		if _, err := AppendBencode(nil, r.keys); err != nil {
			t.Fatalf("keys do not encode: %v", err)
		}
	})
}

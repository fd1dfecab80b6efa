package api

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/hushmedia/hush/internal/session"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

func testServer() *SessionServer {
	return &SessionServer{conv: converter{
		bind:     netip.MustParseAddr("127.0.0.1"),
		defaults: session.Policy{StrictSource: true, IdleTimeout: 60e9},
	}}
}

func TestCreateValidation(t *testing.T) {
	s := testServer()
	long := strings.Repeat("x", 300)
	many := map[string]string{}
	for i := 0; i < 40; i++ {
		many[string(rune('a'+i%26))+strings.Repeat("k", i)] = "v"
	}
	cases := []struct {
		name string
		req  *hushv1.CreateSessionRequest
		code codes.Code
	}{
		{"no call id", &hushv1.CreateSessionRequest{}, codes.InvalidArgument},
		{"long call id", &hushv1.CreateSessionRequest{CallId: long}, codes.InvalidArgument},
		{"control char", &hushv1.CreateSessionRequest{CallId: "a\x00b"}, codes.InvalidArgument},
		{"space", &hushv1.CreateSessionRequest{CallId: "a b"}, codes.InvalidArgument},
		{"bad utf8", &hushv1.CreateSessionRequest{CallId: "a\xffb"}, codes.InvalidArgument},
		{"long request id", &hushv1.CreateSessionRequest{CallId: "c", RequestId: long}, codes.InvalidArgument},
		{"too many labels", &hushv1.CreateSessionRequest{CallId: "c", Labels: many}, codes.InvalidArgument},
		{"bad label key", &hushv1.CreateSessionRequest{CallId: "c", Labels: map[string]string{"a b": "v"}}, codes.InvalidArgument},
		{"label value control", &hushv1.CreateSessionRequest{CallId: "c", Labels: map[string]string{"k": "v\n"}}, codes.InvalidArgument},
		{"remote no port", &hushv1.CreateSessionRequest{CallId: "c", Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1"}}, codes.InvalidArgument},
		{"remote port 0", &hushv1.CreateSessionRequest{CallId: "c", Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1:0"}}, codes.InvalidArgument},
		{"remote unspecified", &hushv1.CreateSessionRequest{CallId: "c", Customer: &hushv1.Leg{RemoteAddr: "0.0.0.0:5000"}}, codes.InvalidArgument},
		{"remote multicast", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{RemoteAddr: "239.1.1.1:5000"}}, codes.InvalidArgument},
		{"remote hostname", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{RemoteAddr: "localhost:5000"}}, codes.InvalidArgument},
		{"remote ipv6 on v4", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{RemoteAddr: "[::1]:5000"}}, codes.InvalidArgument},
		{"rtcp addr bad", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{RemoteRtcpAddr: "x"}}, codes.InvalidArgument},
		{"expected ip with port", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{ExpectedIp: "127.0.0.1:5000"}}, codes.InvalidArgument},
		{"expected ip hostname", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{ExpectedIp: "localhost"}}, codes.InvalidArgument},
		{"expected ip unspecified", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{ExpectedIp: "0.0.0.0"}}, codes.InvalidArgument},
		{"expected ip multicast", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{ExpectedIp: "224.0.0.1"}}, codes.InvalidArgument},
		{"expected ip zoned", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{ExpectedIp: "fe80::1%eth0"}}, codes.InvalidArgument},
		{"expected ip v6 on v4", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{ExpectedIp: "2001:db8::1"}}, codes.InvalidArgument},
		{"expected ip too long", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{ExpectedIp: long}}, codes.InvalidArgument},
		{"pt > 127", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{Codecs: map[uint32]string{200: "PCMU"}}}, codes.InvalidArgument},
		{"pt 72 (rtcp clash)", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{Codecs: map[uint32]string{72: "X"}}}, codes.InvalidArgument},
		{"empty codec name", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{Codecs: map[uint32]string{0: ""}}}, codes.InvalidArgument},
		{"codec name chars", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{Codecs: map[uint32]string{0: "PC MU"}}}, codes.InvalidArgument},
		{"te pt static", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{TelephoneEventPt: 8}}, codes.InvalidArgument},
		{"te pt in codecs", &hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{TelephoneEventPt: 101, Codecs: map[uint32]string{101: "PCMU"}}}, codes.InvalidArgument},
		{"idle too short", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{IdleTimeout: durationpb.New(1e6)}}, codes.InvalidArgument},
		{"idle invalid", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{IdleTimeout: &durationpb.Duration{Seconds: 1, Nanos: -5}}}, codes.InvalidArgument},
		{"strict unknown enum", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{StrictSource: 99}}, codes.InvalidArgument},
		{"mask mode unknown", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{AgentToCustomer: &hushv1.MaskingPolicy{Mode: 42}}}, codes.InvalidArgument},
		{"mask tone at a DTMF frequency", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_TONE, ToneHz: 697}}}, codes.InvalidArgument},
		{"look-ahead too short", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{LookAhead: durationpb.New(5e6)}}}, codes.InvalidArgument},
		{"recording on", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{Recording: hushv1.RecordingMode_RECORDING_MODE_ON}}, codes.Unimplemented},
		{"auto pause", &hushv1.CreateSessionRequest{CallId: "c", Policy: &hushv1.Policy{AutoPauseOnDtmf: true}}, codes.Unimplemented},
	}
	for _, c := range cases {
		_, err := s.createSpec(c.req)
		if got := status.Code(toStatus(err)); got != c.code {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.code)
		}
	}

	ok := &hushv1.CreateSessionRequest{
		CallId: "abc@pbx", RequestId: "r", AgentId: "agent-1", Labels: map[string]string{"queue": "payments"},
		Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1:5004", Codecs: map[uint32]string{0: "PCMU", 8: "PCMA"}, TelephoneEventPt: 101},
		Agent:    &hushv1.Leg{RtcpMux: true, ExpectedIp: "::ffff:192.0.2.7"},
		Policy:   &hushv1.Policy{StrictSource: hushv1.StrictSource_STRICT_SOURCE_OFF, IdleTimeout: durationpb.New(5e9)},
	}
	spec, err := s.createSpec(ok)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Customer.Remote.String() != "127.0.0.1:5004" || spec.Customer.TelephoneEventPT != 101 || !spec.Agent.RTCPMux ||
		spec.Agent.ExpectedIP.String() != "192.0.2.7" ||
		spec.Policy.StrictSource || spec.Policy.IdleTimeout != 5e9 || spec.Customer.Codecs[8] != "PCMA" {
		t.Fatalf("spec %+v", spec)
	}
}

func TestUpdateMask(t *testing.T) {
	s := testServer()
	u, err := s.update(&hushv1.UpdateSessionRequest{
		SessionId: "s", Agent: &hushv1.Leg{RemoteAddr: "127.0.0.1:7000", RtcpMux: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"agent.remote_addr"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Agent == nil || u.Agent.Remote == nil || u.Agent.RTCPMux != nil || u.Customer != nil || u.Policy != nil {
		t.Fatalf("mask not respected: %+v %+v", u, u.Agent)
	}
	// Empty mask: what the request sets.
	u, err = s.update(&hushv1.UpdateSessionRequest{SessionId: "s", Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1:7000"}})
	if err != nil || u.Customer == nil || u.Customer.Remote == nil || u.Agent != nil {
		t.Fatalf("empty mask: %+v %v", u, err)
	}
	// A mask can clear a remote (latch again).
	u, err = s.update(&hushv1.UpdateSessionRequest{SessionId: "s", UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"customer.remote_addr"}}})
	if err != nil || u.Customer == nil || u.Customer.Remote == nil || u.Customer.Remote.IsValid() {
		t.Fatalf("clear remote: %+v %v", u, err)
	}
	// A re-INVITE that clears the agent's remote and names the IP it will latch from.
	u, err = s.update(&hushv1.UpdateSessionRequest{SessionId: "s", Agent: &hushv1.Leg{ExpectedIp: "127.0.0.9"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"agent.remote_addr", "agent.expected_ip"}}})
	if err != nil || u.Agent == nil || u.Agent.Remote == nil || u.Agent.Remote.IsValid() || u.Agent.ExpectedIP == nil ||
		u.Agent.ExpectedIP.String() != "127.0.0.9" {
		t.Fatalf("expected ip: %+v %v", u, err)
	}
	for _, bad := range []string{"call_id", "customer", "agent.local_addr", ""} {
		_, err := s.update(&hushv1.UpdateSessionRequest{SessionId: "s", UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{bad}}})
		if status.Code(toStatus(err)) != codes.InvalidArgument {
			t.Errorf("path %q: %v", bad, err)
		}
	}
}

func TestErrorTable(t *testing.T) {
	for _, e := range errorCodes {
		wrapped := errors.Join(errors.New("context"), e.err)
		if got := status.Code(toStatus(wrapped)); got != e.code {
			t.Errorf("%v: got %v, want %v", e.err, got, e.code)
		}
	}
	if got := status.Convert(toStatus(errors.New("disk on fire: /secret/path"))); got.Code() != codes.Internal || strings.Contains(got.Message(), "secret") {
		t.Errorf("unknown error leaked: %v", got)
	}
}

func TestPageToken(t *testing.T) {
	cur := session.Cursor{ID: "abc", Created: time.Unix(1700000000, 123456789)}
	back, err := decodePageToken(encodePageToken(cur))
	if err != nil || back.ID != "abc" || !back.Created.Equal(cur.Created) {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"%%", "bm90LWEtdG9rZW4", strings.Repeat("A", 500), "MTIzOg"} {
		if _, err := decodePageToken(bad); !errors.Is(err, errInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzCreateSessionRequest feeds arbitrary wire bytes through proto decoding and the
// validators: they must never panic, and a request they accept must convert cleanly.
func FuzzCreateSessionRequest(f *testing.F) {
	seed, _ := proto.Marshal(&hushv1.CreateSessionRequest{
		CallId: "c", RequestId: "r", Labels: map[string]string{"k": "v"},
		Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1:5000", Codecs: map[uint32]string{0: "PCMU"}, TelephoneEventPt: 101},
		Policy:   &hushv1.Policy{IdleTimeout: durationpb.New(1e9)},
	})
	f.Add(seed)
	f.Add([]byte{0x0a, 0x01, 0x00})
	f.Add([]byte{})
	s := testServer()
	f.Fuzz(func(t *testing.T, b []byte) {
		var req hushv1.CreateSessionRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		spec, err := s.createSpec(&req)
		if err != nil {
			if c := status.Code(toStatus(err)); c != codes.InvalidArgument && c != codes.Unimplemented {
				t.Fatalf("validation error mapped to %v: %v", c, err)
			}
			return
		}
		if spec.CallID == "" {
			t.Fatal("accepted a request without call_id")
		}
	})
}

// FuzzUpdateSessionRequest does the same for updates.
func FuzzUpdateSessionRequest(f *testing.F) {
	seed, _ := proto.Marshal(&hushv1.UpdateSessionRequest{
		SessionId: "s", Agent: &hushv1.Leg{RemoteAddr: "127.0.0.1:5000"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"agent.remote_addr"}},
	})
	f.Add(seed)
	s := testServer()
	f.Fuzz(func(t *testing.T, b []byte) {
		var req hushv1.UpdateSessionRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		if _, err := s.update(&req); err != nil {
			if c := status.Code(toStatus(err)); c != codes.InvalidArgument && c != codes.Unimplemented {
				t.Fatalf("validation error mapped to %v: %v", c, err)
			}
		}
	})
}

// Refusals name the field (and, for update_mask, the path) and say what is wrong with it;
// invisible formatting characters such as a bidi override are refused like control ones.
func TestValidationNamesTheField(t *testing.T) {
	s := testServer()
	create := func(r *hushv1.CreateSessionRequest) error {
		if r.CallId == "" {
			r.CallId = "c"
		}
		_, err := s.createSpec(r)
		return err
	}
	update := func(paths ...string) error {
		_, err := s.update(&hushv1.UpdateSessionRequest{SessionId: "s", UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		return err
	}
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"bidi override in call_id", create(&hushv1.CreateSessionRequest{CallId: "abc\u202Efed"}), []string{"call_id", "bidi override"}},
		{"zero-width space in agent_id", create(&hushv1.CreateSessionRequest{AgentId: "a\u200Bb"}), []string{"agent_id", "invisible"}},
		{"bidi in request_id", create(&hushv1.CreateSessionRequest{RequestId: "r\u202E1"}), []string{"request_id", "invisible"}},
		{"line separator in call_id", create(&hushv1.CreateSessionRequest{CallId: "a\u2028b"}), []string{"call_id", "invisible"}},
		{"no-break space in call_id", create(&hushv1.CreateSessionRequest{CallId: "a\u00A0b"}), []string{"call_id", "space"}},
		{"bidi in a label value", create(&hushv1.CreateSessionRequest{Labels: map[string]string{"queue": "x\u202Ey"}}), []string{`labels["queue"]`, "invisible"}},
		{"newline in a label value", create(&hushv1.CreateSessionRequest{Labels: map[string]string{"queue": "x\ny"}}), []string{`labels["queue"]`, "control"}},
		{"bidi in a reason", checkControl("s", "r", "card \u202Epayment"), []string{"reason", "invisible"}},
		{"newline in a reason", checkControl("s", "r", "card\npayment"), []string{"reason", "control"}},
		{"broadcast remote", create(&hushv1.CreateSessionRequest{Customer: &hushv1.Leg{RemoteAddr: "255.255.255.255:5000"}}), []string{"customer.remote_addr", "broadcast"}},
		{"mapped broadcast remote", create(&hushv1.CreateSessionRequest{Agent: &hushv1.Leg{RemoteAddr: "[::ffff:255.255.255.255]:5000"}}), []string{"agent.remote_addr", "broadcast"}},
		{"this-network remote", create(&hushv1.CreateSessionRequest{Agent: &hushv1.Leg{RemoteRtcpAddr: "0.1.2.3:5000"}}), []string{"agent.remote_rtcp_addr", "0.0.0.0/8"}},
		{"reserved remote", create(&hushv1.CreateSessionRequest{Agent: &hushv1.Leg{RemoteAddr: "240.0.0.1:5000"}}), []string{"agent.remote_addr", "reserved"}},
		{"unspecified remote", create(&hushv1.CreateSessionRequest{Agent: &hushv1.Leg{RemoteAddr: "0.0.0.0:5000"}}), []string{"agent.remote_addr", "unspecified"}},
		{"multicast remote", create(&hushv1.CreateSessionRequest{Agent: &hushv1.Leg{RemoteAddr: "224.0.0.1:5000"}}), []string{"agent.remote_addr", "multicast"}},
		{"port 0", create(&hushv1.CreateSessionRequest{Agent: &hushv1.Leg{RemoteAddr: "127.0.0.1:0"}}), []string{"agent.remote_addr", "port"}},
		{"unknown mask path", update("agent.remote"), []string{`update_mask path "agent.remote"`, "agent.remote_addr"}},
		{"mask path with a card number", update("a.4111111111111111"), []string{`"a.[digits removed]"`}},
		{"mask path not a field name", update("agent remote"), []string{"not a field name"}},
	}
	for _, c := range cases {
		if status.Code(toStatus(c.err)) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", c.name, c.err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(c.err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, c.err, w)
			}
		}
		if strings.Contains(c.err.Error(), "4111111111111111") {
			t.Errorf("%s: the error echoes a card number", c.name)
		}
	}
	// Ordinary text stays accepted: accents, other scripts, spaces in free text.
	if err := create(&hushv1.CreateSessionRequest{CallId: "appel-é-東京@pbx", AgentId: "agent-ø",
		Labels: map[string]string{"queue": "Zahlungen Süd"}}); err != nil {
		t.Errorf("ordinary text refused: %v", err)
	}
	if err := checkControl("s", "r", "card payment, part 2"); err != nil {
		t.Errorf("ordinary reason refused: %v", err)
	}
}

package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/srtp"
)

func testKey() srtp.Key {
	k, err := srtp.GenerateKey(srtp.AES128CMSHA1_80)
	if err != nil {
		panic(err)
	}
	return k
}

// TestRecordSRTPAndFlows: a session with an SRTP leg and a blocked direction. The
// directory holds that the leg is SRTP, never its keys (no material in any encoding a
// reader could use, no fingerprint either); the node that takes it over gets the leg as
// SRTP without keys, so it fails closed. The blocked and silenced directions stay so.
// Such a record is version 2, which a node that knows neither field refuses.
func TestRecordSRTPAndFlows(t *testing.T) {
	in := sampleSnapshot()
	keys := &srtp.Keys{Recv: testKey(), Send: testKey()}
	in.Legs[session.Agent].Spec.SRTP = keys
	in.Policy.CustomerToAgent.Flow = session.FlowBlock
	in.Policy.AgentToCustomer.Flow = session.FlowSilence
	b, err := encodeRecord(&in)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []srtp.Key{keys.Recv, keys.Send} {
		m := k.Material()
		for name, enc := range map[string]string{"base64": k.Inline(), "hex": hex.EncodeToString(m),
			"raw base64": base64.RawStdEncoding.EncodeToString(m), "fingerprint": k.Fingerprint()} {
			if strings.Contains(string(b), enc) {
				t.Errorf("the record holds a key (%s): %s", name, b)
			}
		}
		if bytes.Contains(b, m) {
			t.Error("the record holds a key's raw octets")
		}
	}
	var head struct{ V int }
	if err := json.Unmarshal(b, &head); err != nil || head.V != 2 {
		t.Errorf("record version %d (%v), want 2", head.V, err)
	}
	out, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	ag := out.Legs[session.Agent]
	if ag.Spec.SRTP == nil || !ag.Spec.SRTP.Recv.IsZero() || !ag.Spec.SRTP.Send.IsZero() || !ag.SRTPKeysDropped {
		t.Errorf("agent leg after the directory: SRTP %v, keys dropped %v; want SRTP without keys", ag.Spec.SRTP, ag.SRTPKeysDropped)
	}
	if c := out.Legs[session.Customer]; c.Spec.SRTP != nil || c.SRTPKeysDropped {
		t.Errorf("plain customer leg came back SRTP: %+v", c)
	}
	if out.Policy.CustomerToAgent.Flow != session.FlowBlock || out.Policy.AgentToCustomer.Flow != session.FlowSilence {
		t.Errorf("flows %v/%v, want block/silence", out.Policy.CustomerToAgent.Flow, out.Policy.AgentToCustomer.Flow)
	}
	// A plain session with every direction forwarded stays version 1, readable by every node.
	plain := sampleSnapshot()
	if b, _ := encodeRecord(&plain); !bytes.HasPrefix(b, []byte(`{"v":1,`)) {
		t.Errorf("plain record %s, want version 1", b)
	}
}

func sampleSnapshot() session.Snapshot {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	return session.Snapshot{
		ID: "0123456789abcdef0123456789abcdef", CallID: "a84b4c76e66710@pbx", AgentID: "agent-42",
		Labels: map[string]string{"queue": "sales"}, Created: t0,
		Legs: [2]session.SnapshotLeg{
			{Spec: session.LegSpec{ExpectedIP: netip.MustParseAddr("192.0.2.10"), Codecs: map[uint8]string{0: "PCMU", 9: "G722"}, TelephoneEventPT: 101},
				Local: netip.MustParseAddrPort("127.0.0.2:30000"), Remote: netip.MustParseAddrPort("192.0.2.10:4000"), Latched: true},
			{Spec: session.LegSpec{Remote: netip.MustParseAddrPort("192.0.2.20:5000"), RTCPMux: true},
				Local: netip.MustParseAddrPort("127.0.0.2:30002"), Remote: netip.MustParseAddrPort("192.0.2.20:5000"),
				RemoteRTCP: netip.MustParseAddrPort("192.0.2.20:5000")},
		},
		Policy: session.Policy{
			CustomerToAgent: session.MaskPolicy{Mode: session.MaskTone, LookAhead: 60 * time.Millisecond, ToneHz: 400},
			AgentToCustomer: session.MaskPolicy{Mode: session.MaskOff},
			Recording:       session.RecordingPolicy{MaxPause: time.Minute, AutoPauseOnDTMF: true, Retention: 90 * 24 * time.Hour},
			StrictSource:    true, IdleTimeout: time.Minute,
		},
		CaptureBegun: true,
		Recording: session.SnapshotRecording{ID: "0123456789abcdef0123456789abcdef-2", Segment: 2, State: session.RecordingPaused,
			Behavior: session.PauseSkip, PausedAt: t0.Add(time.Minute)},
		Moves: []session.Move{{From: "a", To: "b", Reason: session.MoveTakeover, At: t0.Add(30 * time.Second),
			RecordingID: "0123456789abcdef0123456789abcdef-2", PreviousRecordingID: "0123456789abcdef0123456789abcdef"}},
	}
}

// TestRecordRoundTrip: every field a takeover needs survives the directory's format.
func TestRecordRoundTrip(t *testing.T) {
	in := sampleSnapshot()
	b, err := encodeRecord(&in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the snapshot:\n in %+v\nout %+v", in, out)
	}
	for _, word := range []string{"digit", "pan", "card"} {
		if strings.Contains(strings.ToLower(string(b)), `"`+word) {
			t.Errorf("record has a %q field", word)
		}
	}
}

// TestDecodeRecordBad: a damaged or hostile directory entry is an ErrBadRecord, never a
// panic and never a session restored with values hush would not accept from the API.
func TestDecodeRecordBad(t *testing.T) {
	good, _ := encodeRecord(new(sampleSnapshot()))
	mod := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	leg := func(m map[string]any) map[string]any { return m["legs"].([]any)[0].(map[string]any) }
	for name, b := range map[string][]byte{
		"empty":    nil,
		"not json": []byte("{"),
		"array":    []byte("[]"),
		"version":  mod(func(m map[string]any) { m["v"] = 3 }),
		"flow 3":   mod(func(m map[string]any) { m["policy"].(map[string]any)["to_agent"].(map[string]any)["flow"] = 3 }),
		"flow -1":  mod(func(m map[string]any) { m["policy"].(map[string]any)["to_customer"].(map[string]any)["flow"] = -1 }),
		"move leg 2": mod(func(m map[string]any) {
			m["moves"].([]any)[0].(map[string]any)["srtp_without_keys"] = []any{2}
		}),
		"no id":           mod(func(m map[string]any) { delete(m, "id") }),
		"no call":         mod(func(m map[string]any) { m["call"] = "" }),
		"no created":      mod(func(m map[string]any) { delete(m, "created") }),
		"bad local":       mod(func(m map[string]any) { leg(m)["local"] = "nowhere" }),
		"no local":        mod(func(m map[string]any) { delete(leg(m), "local") }),
		"local port 0":    mod(func(m map[string]any) { leg(m)["local"] = "127.0.0.1:0" }),
		"bad remote":      mod(func(m map[string]any) { leg(m)["now"] = "1.2.3.4" }),
		"bad expected ip": mod(func(m map[string]any) { leg(m)["expected_ip"] = "x" }),
		"codec pt 200":    mod(func(m map[string]any) { leg(m)["codecs"] = map[string]any{"200": "PCMU"} }),
		"codec pt text":   mod(func(m map[string]any) { leg(m)["codecs"] = map[string]any{"pcmu": "PCMU"} }),
		"te pt 200":       mod(func(m map[string]any) { leg(m)["te_pt"] = 200 }),
		"mask mode 9":     mod(func(m map[string]any) { m["policy"].(map[string]any)["to_agent"].(map[string]any)["mode"] = 9 }),
		"negative look-ahead": mod(func(m map[string]any) {
			m["policy"].(map[string]any)["to_agent"].(map[string]any)["look_ahead_ns"] = -1
		}),
		"negative idle":      mod(func(m map[string]any) { m["policy"].(map[string]any)["idle_timeout_ns"] = -1 }),
		"negative retention": mod(func(m map[string]any) { m["policy"].(map[string]any)["retention_ns"] = -1 }),
		"recording state 9":  mod(func(m map[string]any) { m["recording"].(map[string]any)["state"] = 9 }),
		"negative segment":   mod(func(m map[string]any) { m["recording"].(map[string]any)["segment"] = -1 }),
		"too big":            append(append([]byte(`{"v":1,"pad":"`), strings.Repeat("x", maxRecordBytes)...), `"}`...),
	} {
		if _, err := decodeRecord(b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v, want ErrBadRecord", name, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	good, _ := encodeRecord(new(sampleSnapshot()))
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		for _, l := range s.Legs {
			if !l.Local.IsValid() || l.Local.Port() == 0 {
				t.Fatalf("accepted a leg without a local port: %+v", l)
			}
		}
		if s.ID == "" || s.CallID == "" {
			t.Fatal("accepted a record without id or call")
		}
	})
}

// fill sets every field of v (a pointer) to a non-zero value the record accepts, so that a
// field added to a snapshot that the record does not carry fails TestRecordCarriesEveryField.
func fill(v reflect.Value) {
	switch x := v.Addr().Interface().(type) {
	case *netip.AddrPort:
		*x = netip.MustParseAddrPort("192.0.2.1:1")
		return
	case *netip.Addr:
		*x = netip.MustParseAddr("192.0.2.1")
		return
	case *time.Time:
		*x = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
		return
	case **srtp.Keys:
		*x = &srtp.Keys{Recv: testKey(), Send: testKey()}
		return
	case *session.PauseBehavior: // a string with two values: "x" is not one
		*x = session.PauseSkip
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Uint8, reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(1)
	case reflect.String:
		v.SetString("x")
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	}
}

// TestRecordCarriesEveryField: every field of a snapshot, set, survives the directory. A
// field added to session.Snapshot (or its policy, legs, recording, moves) fails here until
// the record carries it: a takeover must not drop what a session was told.
func TestRecordCarriesEveryField(t *testing.T) {
	var in session.Snapshot
	fill(reflect.ValueOf(&in).Elem())
	for l := range in.Legs {
		in.Legs[l].Spec.Latched = false // for the media only: a snapshot's spec is the platform's
	}
	b, err := encodeRecord(&in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	// SRTP keys are the one thing left out on purpose: the leg comes back SRTP, keyless.
	for l := range in.Legs {
		in.Legs[l].Spec.SRTP, in.Legs[l].SRTPKeysDropped = &srtp.Keys{}, true
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("not carried:\n in %+v\nout %+v", in, out)
	}
}

package api

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/srtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

func keyBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)*13
	}
	return b
}

func TestSRTPLeg(t *testing.T) {
	s := testServer()
	cm := hushv1.SrtpSuite_SRTP_SUITE_AES_CM_128_HMAC_SHA1_80
	gcm := hushv1.SrtpSuite_SRTP_SUITE_AEAD_AES_256_GCM
	k30a, k30b, k44 := keyBytes(30, 1), keyBytes(30, 2), keyBytes(44, 3)
	bad := []struct {
		name string
		srtp *hushv1.Srtp
	}{
		{"no suite", &hushv1.Srtp{RemoteKey: k30a, LocalKey: k30b}},
		{"unknown suite", &hushv1.Srtp{Suite: 99, RemoteKey: k30a, LocalKey: k30b}},
		{"no remote key", &hushv1.Srtp{Suite: cm, LocalKey: k30b}},
		{"no local key", &hushv1.Srtp{Suite: cm, RemoteKey: k30a}},
		{"short key", &hushv1.Srtp{Suite: cm, RemoteKey: k30a[:29], LocalKey: k30b}},
		{"GCM-256 length for CM", &hushv1.Srtp{Suite: cm, RemoteKey: k44, LocalKey: k30b}},
		{"CM length for GCM-256", &hushv1.Srtp{Suite: gcm, RemoteKey: k30a, LocalKey: k44}},
		{"same key both ways", &hushv1.Srtp{Suite: cm, RemoteKey: k30a, LocalKey: k30a}},
	}
	for _, b := range bad {
		_, err := s.createSpec(&hushv1.CreateSessionRequest{CallId: "c", Agent: &hushv1.Leg{Srtp: b.srtp}})
		if status.Code(toStatus(err)) != codes.InvalidArgument {
			t.Errorf("%s: %v", b.name, err)
		}
		if err != nil && (strings.Contains(err.Error(), string(k30a)) || !strings.Contains(err.Error(), "agent.srtp")) {
			t.Errorf("%s: error %q", b.name, err)
		}
	}

	spec, err := s.createSpec(&hushv1.CreateSessionRequest{CallId: "c",
		Agent: &hushv1.Leg{Srtp: &hushv1.Srtp{Suite: cm, RemoteKey: k30a, LocalKey: k30b}}})
	if err != nil {
		t.Fatal(err)
	}
	ks := spec.Agent.SRTP
	if ks == nil || spec.Customer.SRTP != nil || ks.Recv.Suite() != srtp.AES128CMSHA1_80 ||
		!bytes.Equal(ks.Recv.Material(), k30a) || !bytes.Equal(ks.Send.Material(), k30b) {
		t.Fatalf("keys %v", ks)
	}

	// What answers say: the suite and fingerprints, never the keys.
	out := s.conv.legPB(&session.LegInfo{LegSpec: spec.Agent})
	if out.GetSrtp().GetSuite() != cm || out.GetSrtp().GetRemoteKeyFingerprint() != ks.Recv.Fingerprint() ||
		out.GetSrtp().GetLocalKeyFingerprint() != ks.Send.Fingerprint() {
		t.Fatalf("answer %v", out.GetSrtp())
	}
	if len(out.GetSrtp().GetRemoteKey()) != 0 || len(out.GetSrtp().GetLocalKey()) != 0 {
		t.Fatal("an answer carries a key")
	}
	wire, _ := proto.Marshal(out)
	js, _ := protojson.Marshal(out)
	for _, k := range [][]byte{k30a, k30b, []byte(ks.Recv.Inline()), []byte(ks.Send.Inline())} {
		if bytes.Contains(wire, k) || bytes.Contains(js, k) {
			t.Fatal("key material in an answer")
		}
	}

	// UpdateSession: srtp set, and cleared by a mask (plain RTP again).
	u, err := s.update(&hushv1.UpdateSessionRequest{SessionId: "s", Customer: &hushv1.Leg{Srtp: &hushv1.Srtp{Suite: cm, RemoteKey: k30a, LocalKey: k30b}}})
	if err != nil || u.Customer == nil || !u.Customer.SetSRTP || u.Customer.SRTP == nil {
		t.Fatalf("update: %+v %v", u, err)
	}
	u, err = s.update(&hushv1.UpdateSessionRequest{SessionId: "s", UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"agent.srtp"}}})
	if err != nil || u.Agent == nil || !u.Agent.SetSRTP || u.Agent.SRTP != nil {
		t.Fatalf("clear: %+v %v", u, err)
	}
}

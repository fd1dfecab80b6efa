package api

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/hushmedia/hush/internal/session"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestPlayDtmfValidation: bad requests are INVALID_ARGUMENT naming the field and never
// echoing the key; defaults are rtpengine's (250 ms, 100 ms pause, -8 dBm0).
func TestPlayDtmfValidation(t *testing.T) {
	ok := func() *hushv1.PlayDtmfRequest {
		return &hushv1.PlayDtmfRequest{SessionId: "s", Toward: hushv1.LegName_LEG_NAME_CUSTOMER, Key: "7"}
	}
	k, err := playRequest(ok())
	if err != nil || k.From != session.Agent || k.Key != '7' || k.Duration != 250*time.Millisecond ||
		k.Pause != 100*time.Millisecond || k.Volume != 8 {
		t.Fatalf("%+v %v", k, err)
	}
	for name, tc := range map[string]struct {
		mut   func(*hushv1.PlayDtmfRequest)
		field string
	}{
		"no session":      {func(r *hushv1.PlayDtmfRequest) { r.SessionId = "" }, "session_id"},
		"no party":        {func(r *hushv1.PlayDtmfRequest) { r.Toward = 0 }, "toward"},
		"unknown party":   {func(r *hushv1.PlayDtmfRequest) { r.Toward = 9 }, "toward"},
		"no key":          {func(r *hushv1.PlayDtmfRequest) { r.Key = "" }, "key"},
		"two keys":        {func(r *hushv1.PlayDtmfRequest) { r.Key = "12" }, "key"},
		"not a key":       {func(r *hushv1.PlayDtmfRequest) { r.Key = "E" }, "key"},
		"a card number":   {func(r *hushv1.PlayDtmfRequest) { r.Key = "4111111111111111" }, "key"},
		"short":           {func(r *hushv1.PlayDtmfRequest) { r.Duration = durationpb.New(50 * time.Millisecond) }, "duration"},
		"long":            {func(r *hushv1.PlayDtmfRequest) { r.Duration = durationpb.New(6 * time.Second) }, "duration"},
		"bad duration":    {func(r *hushv1.PlayDtmfRequest) { r.Duration = &durationpb.Duration{Seconds: 1, Nanos: -1} }, "duration"},
		"long pause":      {func(r *hushv1.PlayDtmfRequest) { r.Pause = durationpb.New(time.Minute) }, "pause"},
		"too loud":        {func(r *hushv1.PlayDtmfRequest) { r.LevelDbm0 = 3 }, "level_dbm0"},
		"too quiet":       {func(r *hushv1.PlayDtmfRequest) { r.LevelDbm0 = -64 }, "level_dbm0"},
		"bad request id":  {func(r *hushv1.PlayDtmfRequest) { r.RequestId = "a b" }, "request_id"},
		"bad session id":  {func(r *hushv1.PlayDtmfRequest) { r.SessionId = "x\x00" }, "session_id"},
		"huge session id": {func(r *hushv1.PlayDtmfRequest) { r.SessionId = strings.Repeat("s", 1000) }, "session_id"},
	} {
		r := ok()
		tc.mut(r)
		_, err := playRequest(r)
		st := status.Convert(toStatus(err))
		if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.field) || strings.Contains(st.Message(), "4111") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestUpdateFlowPaths: policy.<direction>.flow sets that direction's flow alone; the
// whole policy carries flows too; an unknown flow is refused.
func TestUpdateFlowPaths(t *testing.T) {
	s := testServer()
	block := &hushv1.Policy{AgentToCustomer: &hushv1.MaskingPolicy{Flow: hushv1.MediaFlow_MEDIA_FLOW_SILENCE}}
	u, err := s.update(&hushv1.UpdateSessionRequest{SessionId: "s", Policy: block,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"policy.agent_to_customer.flow"}}})
	if err != nil || u.Policy != nil || u.Flows[session.CustomerToAgent] != nil ||
		u.Flows[session.AgentToCustomer] == nil || *u.Flows[session.AgentToCustomer] != session.FlowSilence {
		t.Fatalf("%+v %v", u, err)
	}
	// Unset in the request: forward.
	u, err = s.update(&hushv1.UpdateSessionRequest{SessionId: "s",
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"policy.customer_to_agent.flow"}}})
	if err != nil || u.Flows[session.CustomerToAgent] == nil || *u.Flows[session.CustomerToAgent] != session.FlowForward {
		t.Fatalf("%+v %v", u, err)
	}
	u, err = s.update(&hushv1.UpdateSessionRequest{SessionId: "s", Policy: block})
	if err != nil || u.Policy == nil || u.Policy.AgentToCustomer.Flow != session.FlowSilence || u.Flows != [2]*session.MediaFlow{} {
		t.Fatalf("%+v %v", u, err)
	}
	bad := &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Flow: 9}}
	for _, m := range [][]string{nil, {"policy.customer_to_agent.flow"}} {
		_, err := s.update(&hushv1.UpdateSessionRequest{SessionId: "s", Policy: bad, UpdateMask: &fieldmaskpb.FieldMask{Paths: m}})
		if st := status.Convert(toStatus(err)); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "flow") {
			t.Errorf("mask %v: %v", m, err)
		}
	}
	if got := maskPolicyPB(session.MaskPolicy{Mode: session.MaskTone, Flow: session.FlowBlock}); got.GetFlow() != hushv1.MediaFlow_MEDIA_FLOW_BLOCK {
		t.Fatalf("%v", got)
	}
}

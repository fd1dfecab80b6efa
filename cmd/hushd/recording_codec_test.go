package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pion/rtp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestRecordingUndecodableCodec: a G.722 leg (a codec hush cannot decode) is recorded as
// silence, and hush says so everywhere: CreateSession and UpdateSession answer a warning
// naming the field, the watch stream gets an UndecodableAudio event for the leg, and the
// recording reads PARTIAL (some audio decoded) or UNDECODABLE (none) with the undecodable
// packets counted per leg, in GetRecording and ListRecordings.
func TestRecordingUndecodableCodec(t *testing.T) {
	t.Parallel()
	d := recordingDaemon(t, filepath.Join(t.TempDir(), "recordings"))
	const slots = 25
	off := &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}
	for _, c := range []struct {
		name         string
		agentG722    bool
		masked       bool // customer->agent masked: the G.722 packets are dropped, not forwarded
		wantContent  hushv1.RecordingContent
		wantWarnings []string
	}{
		{"customer-g722", false, false, hushv1.RecordingContent_RECORDING_CONTENT_PARTIAL, []string{"customer.codecs[9]"}},
		{"both-g722", true, false, hushv1.RecordingContent_RECORDING_CONTENT_UNDECODABLE, []string{"customer.codecs[9]", "agent.codecs[9]"}},
		{"customer-g722-masked", false, true, hushv1.RecordingContent_RECORDING_CONTENT_PARTIAL, []string{"customer.codecs[9]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cust := newEndpoint(t, "udp4", "127.0.0.1:0")
			agent := newEndpoint(t, "udp4", "127.0.0.1:0")
			s, err := d.session.CreateSession(tctx(t), &hushv1.CreateSessionRequest{
				CallId:   "g722-" + c.name,
				Customer: &hushv1.Leg{RemoteAddr: cust.addr().String(), Codecs: map[uint32]string{9: "G722", 0: "PCMU"}},
				Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
				Policy:   &hushv1.Policy{CustomerToAgent: off, AgentToCustomer: off},
			})
			if err != nil {
				t.Fatal(err)
			}
			warned := func(s *hushv1.Session) []string {
				var out []string
				for _, w := range s.Warnings {
					if w.Code != hushv1.WarningCode_WARNING_CODE_UNDECODABLE_CODEC || w.Message == "" {
						t.Errorf("warning %v", w)
					}
					out = append(out, w.Field)
				}
				return out
			}
			if c.masked {
				s, err = d.session.UpdateSession(tctx(t), &hushv1.UpdateSessionRequest{
					SessionId: s.SessionId, RequestId: "mask",
					Policy:     &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_TONE}, AgentToCustomer: off},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"policy"}},
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0].Message, "not forwarded") {
					t.Errorf("warnings of the masked leg %v: want one that says the audio is not forwarded", s.Warnings)
				}
			}
			if got := warned(s); len(got) != 1 || got[0] != "customer.codecs[9]" {
				t.Errorf("CreateSession warnings %v, want customer.codecs[9]", got)
			}
			w := d.watch(s.SessionId)
			if c.agentG722 {
				u, err := d.session.UpdateSession(tctx(t), &hushv1.UpdateSessionRequest{
					SessionId: s.SessionId, RequestId: "u1",
					Agent:      &hushv1.Leg{Codecs: map[uint32]string{9: "G722"}},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"agent.codecs"}},
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := warned(u); fmt.Sprint(got) != fmt.Sprint(c.wantWarnings) {
					t.Errorf("UpdateSession warnings %v, want %v", got, c.wantWarnings)
				}
			}
			g722 := func(ph *phone, k int) []byte {
				return ph.marshal(t, rtp.Header{PayloadType: 9, Timestamp: ph.ts0 + uint32(k*audioFrame)}, make([]byte, audioFrame))
			}
			custPh, agentPh := &phone{ssrc: 0x61, ts0: 100}, &phone{ssrc: 0x62, ts0: 200}
			cw := wire{from: cust, to: addrPort(s.Customer.LocalAddr)}
			aw := wire{from: agent, to: addrPort(s.Agent.LocalAddr)}
			for k := range slots {
				cw.pkts = append(cw.pkts, timed{k, g722(custPh, k)})
				if c.agentG722 {
					aw.pkts = append(aw.pkts, timed{k, g722(agentPh, k)})
				} else {
					aw.pkts = append(aw.pkts, timed{k, agentPh.audio(t, k*audioFrame, codedPayload(k))})
				}
			}
			p := pace([]wire{cw, aw})
			ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetUndecodableAudio() != nil })
			if u := ev.GetUndecodableAudio(); u.PayloadType != 9 || u.Leg == hushv1.LegName_LEG_NAME_UNSPECIFIED {
				t.Errorf("UndecodableAudio event %v", u)
			}
			p.wait(t, slots)
			// Every packet was handled once a later one of the same socket came through.
			last := agentPh.audio(t, slots*audioFrame, codedPayload(slots))
			if c.agentG722 {
				last = g722(agentPh, slots)
			}
			settle(t, agent, cust, s.Agent.LocalAddr, last)
			wantCust := uint64(slots + 1)
			if c.masked {
				// Dropped toward the agent: nothing to settle on. Every packet up to the
				// first was counted (the event says so); the rest may be in flight.
				wantCust = 0
			} else {
				settle(t, cust, agent, s.Customer.LocalAddr, g722(custPh, slots))
			}
			if _, err := d.session.DeleteSession(tctx(t), &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
				t.Fatal(err)
			}
			recs := hushv1.NewRecordingServiceClient(d.conn)
			rec, err := recs.GetRecording(tctx(t), &hushv1.GetRecordingRequest{RecordingId: s.RecordingId})
			if err != nil {
				t.Fatal(err)
			}
			wantAgent := uint64(0)
			if c.agentG722 {
				wantAgent = slots + 1
			}
			custOK := rec.CustomerUndecodablePackets == wantCust || wantCust == 0 && rec.CustomerUndecodablePackets > 0
			if rec.Content != c.wantContent || !custOK || rec.AgentUndecodablePackets != wantAgent ||
				rec.Status != hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE {
				t.Errorf("recording: content %v, undecodable packets customer %d agent %d, status %v; want %v, %d (0: some), %d, COMPLETE",
					rec.Content, rec.CustomerUndecodablePackets, rec.AgentUndecodablePackets, rec.Status, c.wantContent, wantCust, wantAgent)
			}
			list, err := recs.ListRecordings(tctx(t), &hushv1.ListRecordingsRequest{CallId: "g722-" + c.name})
			if err != nil || len(list.Recordings) != 1 || list.Recordings[0].Content != c.wantContent {
				t.Errorf("ListRecordings: %v, %v", list, err)
			}
		})
	}
}

package main

import (
	"fmt"
	"path/filepath"
	"testing"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestRecordingKeepsLastAudio: the recording tap holds the last 80 ms (its look-ahead) of
// a stream until it has analysed what follows. The customer talks for 0.8 s and stops;
// the agent goes on for 0.6 s or 1.6 s more, then the platform deletes the session. The
// customer's audio is in the WAV to its last sample, each sample where the timeline puts
// it (the anchor plus its stream position): not dropped as late, not moved to the end.
func TestRecordingKeepsLastAudio(t *testing.T) {
	t.Parallel()
	d := recordingDaemon(t, filepath.Join(t.TempDir(), "recordings"))
	const talk = 40 // customer packets: 0.8 s
	for _, more := range []int{30, 80} {
		t.Run(fmt.Sprintf("agent_%dms_more", more*20), func(t *testing.T) {
			t.Parallel()
			cust := newEndpoint(t, "udp4", "127.0.0.1:0")
			agent := newEndpoint(t, "udp4", "127.0.0.1:0")
			s, err := d.session.CreateSession(tctx(t), &hushv1.CreateSessionRequest{
				CallId:   fmt.Sprintf("tail-%d", more),
				Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
				Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
			})
			if err != nil {
				t.Fatal(err)
			}
			custPh, agentPh := &phone{pt: 0, ssrc: 0x51, ts0: 1000}, &phone{pt: 8, ssrc: 0x52, ts0: 5000}
			cw := wire{from: cust, to: addrPort(s.Customer.LocalAddr)}
			aw := wire{from: agent, to: addrPort(s.Agent.LocalAddr)}
			for k := range talk {
				cw.pkts = append(cw.pkts, timed{k, custPh.audio(t, k*audioFrame, codedPayload(k))})
			}
			for k := range talk + more {
				aw.pkts = append(aw.pkts, timed{k, agentPh.audio(t, k*audioFrame, codedPayload(k%codedPackets))})
			}
			p := pace([]wire{cw, aw})
			p.wait(t, talk+more)
			if _, err := d.session.DeleteSession(tctx(t), &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
				t.Fatal(err)
			}
			_, raw := download(t, d, s.RecordingId, t.TempDir())
			chans, err := decodeWAV(raw, 2)
			if err != nil {
				t.Fatal(err)
			}
			idx := codedIndex(t, chans[0])
			anchor, last, lastAt := -1, -1, -1
			misplaced := 0
			for q, n := range idx {
				if n < 0 {
					continue
				}
				if anchor < 0 {
					anchor = q - n
				}
				if q != anchor+n {
					misplaced++
				}
				if n > last {
					last, lastAt = n, q
				}
			}
			if anchor < 0 {
				t.Fatal("no customer audio recorded")
			}
			if want := talk*audioFrame - 1; last != want || misplaced != 0 {
				t.Errorf("the customer's last recorded sample is stream sample %d at %d (want %d at %d); %d samples off their place",
					last, lastAt, want, anchor+want, misplaced)
			}
		})
	}
}

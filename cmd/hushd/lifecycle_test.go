package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hushmedia/hush/media/pcap"
	"github.com/hushmedia/hush/media/relay"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

func TestAPIErrors(t *testing.T) {
	d := startDaemon(t)
	ctx := d.ctx()
	a, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "dup", RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "dup", RequestId: "r1"})
	if err != nil || again.SessionId != a.SessionId {
		t.Fatalf("repeated request id: %v %v", again.GetSessionId(), err)
	}
	cases := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"duplicate call id", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "dup", RequestId: "r2"})
			return err
		}, codes.AlreadyExists},
		{"unknown session", func() error {
			_, err := d.session.GetSession(ctx, &hushv1.GetSessionRequest{SessionId: "nope"})
			return err
		}, codes.NotFound},
		{"delete unknown", func() error {
			_, err := d.session.DeleteSession(ctx, &hushv1.DeleteSessionRequest{SessionId: "nope"})
			return err
		}, codes.NotFound},
		{"missing call id", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{})
			return err
		}, codes.InvalidArgument},
		{"host name remote", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "x", Customer: &hushv1.Leg{RemoteAddr: "pbx.example:5060"}})
			return err
		}, codes.InvalidArgument},
		{"ipv6 remote on ipv4 media", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "x", Customer: &hushv1.Leg{RemoteAddr: "[::1]:5000"}})
			return err
		}, codes.InvalidArgument},
		{"static telephone-event pt", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "x", Agent: &hushv1.Leg{TelephoneEventPt: 8}})
			return err
		}, codes.InvalidArgument},
		{"masking tone on a DTMF frequency", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "x", Policy: &hushv1.Policy{
				CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_TONE, ToneHz: 700}}})
			return err
		}, codes.InvalidArgument},
		{"recording off in this daemon", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "x", Policy: &hushv1.Policy{
				Recording: hushv1.RecordingMode_RECORDING_MODE_ON}})
			return err
		}, codes.Unimplemented},
		{"idle timeout too small", func() error {
			_, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "x", Policy: &hushv1.Policy{IdleTimeout: durationpb.New(1)}})
			return err
		}, codes.InvalidArgument},
		{"pause without a recording", func() error {
			_, err := d.session.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: a.SessionId})
			return err
		}, codes.FailedPrecondition},
		{"bad page token", func() error {
			_, err := d.session.ListSessions(ctx, &hushv1.ListSessionsRequest{PageToken: "%%%"})
			return err
		}, codes.InvalidArgument},
	}
	for _, c := range cases {
		err := c.call()
		if status.Code(err) != c.code {
			t.Errorf("%s: got %v, want %v", c.name, err, c.code)
		}
	}
	// Refusals name the field and never echo what the caller sent.
	_, err = d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "x", Customer: &hushv1.Leg{RemoteAddr: "4111111111111111"}})
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "customer.remote_addr") || strings.Contains(msg, "4111") {
		t.Fatalf("error message %q", msg)
	}
}

func TestListPages(t *testing.T) {
	d := startDaemon(t)
	for i := 0; i < 5; i++ {
		leg := &hushv1.Leg{RtcpMux: true}
		if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
			CallId: string(rune('a' + i)), AgentId: []string{"even", "odd"}[i%2], Customer: leg, Agent: leg,
		}); err != nil {
			t.Fatal(err)
		}
	}
	var calls []string
	tok := ""
	for page := 0; page < 10; page++ {
		resp, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		if resp.TotalSize != 5 || len(resp.Sessions) > 2 {
			t.Fatalf("page %d: total %d, %d sessions", page, resp.TotalSize, len(resp.Sessions))
		}
		for _, s := range resp.Sessions {
			calls = append(calls, s.CallId)
		}
		if tok = resp.NextPageToken; tok == "" {
			break
		}
	}
	if strings.Join(calls, "") != "abcde" {
		t.Fatalf("listed %v", calls)
	}
	resp, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{AgentId: "even"})
	if err != nil || resp.TotalSize != 3 {
		t.Fatalf("filter: %v %v", resp, err)
	}
}

func TestPortExhaustion(t *testing.T) {
	// 8 ports: two sessions without rtcp-mux (4 ports each).
	lo, _ := mediaRange(t, 8)
	d := startDaemon(t, "--media-port-min", itoa(lo), "--media-port-max", itoa(lo+7))
	var ids []string
	for i := 0; i < 2; i++ {
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.SessionId)
	}
	_, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "full"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("want RESOURCE_EXHAUSTED, got %v", err)
	}
	if v := d.metric(`hush_session_create_failures_total{reason="ports_exhausted"}`); v != 1 {
		t.Fatalf("failure metric %v", v)
	}
	if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "full"}); err != nil {
		t.Fatalf("after a delete freed ports: %v", err)
	}
}

func TestDrainOnShutdown(t *testing.T) {
	d := startDaemon(t, "--session-drain-timeout", "100ms")
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-drain",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	w.next()
	if err := d.stop(); err != nil {
		t.Fatalf("run returned %v, want nil after a clean drain", err)
	}
	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetEnded() != nil })
	if ev.GetEnded().Reason != hushv1.EndReason_END_REASON_DRAIN {
		t.Fatalf("ended with %v", ev.GetEnded().Reason)
	}
	// The media ports are closed: nothing listens there any more.
	if !strings.Contains(d.log.String(), "drain finished") {
		t.Fatalf("log lacks drain:\n%s", d.log)
	}
}

func TestAdminDrainRefusesNewSessions(t *testing.T) {
	d := startDaemon(t)
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "before"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.admin.Drain(d.ctx(), &hushv1.DrainRequest{Deadline: durationpb.New(wait * 4)})
	if err != nil || resp.ActiveSessions != 1 {
		t.Fatalf("drain: %v %v", resp, err)
	}
	_, err = d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "after"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("create while draining: %v", err)
	}
	// Existing sessions keep working until they end.
	if _, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	w.next()
	if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
	w.until(func(e *hushv1.SessionEvent) bool { return e.GetEnded() != nil })
}

func TestIPv6(t *testing.T) {
	if ln, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		ln.Close()
	}
	d := startDaemon(t, "--media-address", "::1")
	cust := newEndpoint(t, "udp6", "[::1]:0")
	agent := newEndpoint(t, "udp6", "[::1]:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-v6",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Customer.LocalAddr, "[::1]:") {
		t.Fatalf("local addr %q", s.Customer.LocalAddr)
	}
	st := newStream(6)
	for range relay.LatchProbation - 1 { // the agent's latching probation
		agent.send(s.Agent.LocalAddr, st.next(t))
	}
	for i := 0; i < 20; i++ {
		pkt := st.next(t)
		agent.send(s.Agent.LocalAddr, pkt) // the first latches the agent
		if got, _ := cust.recv(); !bytes.Equal(got, pkt) {
			t.Fatal("agent->customer over IPv6")
		}
		pkt = st.next(t)
		cust.send(s.Customer.LocalAddr, pkt)
		if got, _ := agent.recv(); !bytes.Equal(got, pkt) {
			t.Fatal("customer->agent over IPv6")
		}
	}
}

const sipTesterPcap = "/usr/share/sip-tester/g711a.pcap"

// requireFile skips a test when a file from a Debian package is missing, except in CI.
func requireFile(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: install Debian package %s", path, pkg)
		}
		t.Skipf("%s missing: install Debian package %s", path, pkg)
	}
}

// TestPcapReplay replays sip-tester's G.711 A-law capture through hushd: every packet
// arrives, in order, byte for byte.
func TestPcapReplay(t *testing.T) {
	requireFile(t, sipTesterPcap, "sip-tester")
	f, err := os.Open(sipTesterPcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-pcap",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String(), Codecs: map[uint32]string{8: "PCMA"}},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String(), Codecs: map[uint32]string{8: "PCMA"}},
		// Unmasked: this is about forwarding (a masked direction holds each lockstep packet
		// for the look-ahead).
		Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n < 100000; n++ {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dg, err := pcap.UDP(rd.LinkType, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		cust.send(s.Customer.LocalAddr, dg.Payload)
		got, _ := agent.recv()
		if !bytes.Equal(got, dg.Payload) {
			t.Fatalf("packet %d differs", n)
		}
	}
	if n == 0 {
		t.Fatal("capture had no packets")
	}
	settle(t, cust, agent, s.Customer.LocalAddr, newStream(9).next(t))
	if v := d.metric(`hush_rtp_packets_total{direction="customer_to_agent"}`); !counted(v, n) {
		t.Fatalf("forwarded %v of %d", v, n)
	}
	t.Logf("replayed %d packets of %s byte-exact", n, sipTesterPcap)
}

func itoa(i int) string { return strconv.Itoa(i) }

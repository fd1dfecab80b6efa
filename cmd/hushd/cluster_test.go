package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hushmedia/hush/internal/api"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/cluster/redistest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// clusterArgs are a node's cluster flags: the test's Redis and prefix, its name, a peer
// listener on a free loopback port, a short lease.
func clusterArgs(rs *redistest.Server, prefix, name string, extra ...string) []string {
	return append([]string{"--cluster-redis-addr", rs.Addr, "--cluster-key-prefix", prefix,
		"--cluster-node-id", name, "--cluster-listen", "127.0.0.1:0", "--cluster-lease", "500ms",
		"--cluster-write-timeout", "300ms"}, extra...)
}

func testPrefix(t *testing.T) string {
	return "t" + strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
}

// TestClusterForwarding: three nodes behind "one address": a call created on A is read
// and controlled through B and watched from C as if each ran it; the watch sees B's
// changes and the end C asks for; a payment client is told which node holds the digits.
func TestClusterForwarding(t *testing.T) {
	rs := redistest.Start(t)
	p := testPrefix(t)
	a := startDaemon(t, clusterArgs(rs, p, "a")...)
	b := startDaemon(t, clusterArgs(rs, p, "b")...)
	c := startDaemon(t, clusterArgs(rs, p, "c")...)
	s, err := a.session.CreateSession(a.ctx(), &hushv1.CreateSessionRequest{CallId: "call-1", AgentId: "agent-7"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Node != "a" {
		t.Fatalf("created on node %q, want a", s.Node)
	}
	got, err := b.session.GetSession(b.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if err != nil {
		t.Fatalf("get through b: %v", err)
	}
	if got.Node != "a" || got.Customer.LocalAddr != s.Customer.LocalAddr {
		t.Fatalf("through b: %+v", got)
	}
	w := c.watch(s.SessionId)
	if w.first.GetSnapshot().GetNode() != "a" {
		t.Fatalf("watch through c: %+v", w.first)
	}
	if _, err := b.session.StartSecureCapture(b.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap-1"}); err != nil {
		t.Fatalf("capture through b: %v", err)
	}
	w.until(func(e *hushv1.SessionEvent) bool {
		return e.GetSecureCapture().GetState() == hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON
	})
	// The idempotency key travels: the same request through c is the same request.
	again, err := c.session.StartSecureCapture(c.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap-1"})
	if err != nil || again.SecureCaptureState != hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON {
		t.Fatalf("repeat through c: %v %v", again, err)
	}
	pay := hushv1.NewPaymentServiceClient(b.conn)
	st, err := pay.CollectDigits(b.ctx(), &hushv1.CollectDigitsRequest{SessionId: s.SessionId})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "node a") {
		t.Fatalf("collect through b: %v, want FAILED_PRECONDITION naming node a", err)
	}
	if _, err := c.session.DeleteSession(c.ctx(), &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
		t.Fatalf("delete through c: %v", err)
	}
	end := w.until(func(e *hushv1.SessionEvent) bool { return e.GetEnded() != nil })
	if end.GetEnded().GetReason() != hushv1.EndReason_END_REASON_DELETED {
		t.Fatalf("ended %v", end.GetEnded())
	}
	if _, err := a.session.GetSession(a.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); status.Code(err) != codes.NotFound {
		t.Fatalf("after delete, on a: %v", err)
	}
	if _, err := b.session.GetSession(b.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); status.Code(err) != codes.NotFound {
		t.Fatalf("after delete, through b: %v", err)
	}
}

// clusterPKI writes a cluster CA and one node certificate per name (OU hush-peer).
func clusterPKI(t *testing.T, names ...string) (caFile string, certs map[string][2]string) {
	t.Helper()
	dir := t.TempDir()
	ca := authtest.NewCA(t, "hush cluster CA")
	caFile = authtest.WriteFile(t, dir, "cluster-ca.crt", ca.PEM)
	certs = map[string][2]string{}
	for _, n := range names {
		l := ca.Issue(t, authtest.LeafOpts{CN: n, OUs: []string{auth.PeerOU}})
		certs[n] = [2]string{authtest.WriteFile(t, dir, n+".crt", l.CertPEM), authtest.WriteFile(t, dir, n+".key", l.KeyPEM)}
	}
	return caFile, certs
}

// TestClusterForwardingAuth: with tokens and the cluster's mTLS, a forwarded request is
// judged by the owner as the caller it came from: an agent controls its own call through
// any node and watches it, gets PERMISSION_DENIED on another agent's call through any
// node, and the owner records the agent (not the forwarding node) as the actor.
func TestClusterForwardingAuth(t *testing.T) {
	rs := redistest.Start(t)
	p := testPrefix(t)
	dir := t.TempDir()
	tokens := map[string]string{
		"tok-platform-0123456789": `"subject":"sbc-1","role":"platform"`,
		"tok-alice-0123456789":    `"subject":"alice","role":"agent","agent_id":"a-17"`,
		"tok-bob-0123456789":      `"subject":"bob","role":"agent","agent_id":"a-18"`,
	}
	var tf bytes.Buffer
	for tok, rest := range tokens {
		tf.WriteString(`{"sha256":"` + auth.HashToken(tok) + `",` + rest + "}\n")
	}
	tokenFile := filepath.Join(dir, "tokens.jsonl")
	if err := os.WriteFile(tokenFile, tf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile, certs := clusterPKI(t, "a", "b")
	node := func(name string) *daemon {
		return startDaemon(t, clusterArgs(rs, p, name, "--auth-mode", "token", "--auth-token-file", tokenFile,
			"--cluster-cert-file", certs[name][0], "--cluster-key-file", certs[name][1], "--cluster-ca-file", caFile)...)
	}
	a, b := node("a"), node("b")
	as := func(tok string, ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	s17, err := a.session.CreateSession(as("tok-platform-0123456789", a.ctx()), &hushv1.CreateSessionRequest{CallId: "c17", AgentId: "a-17"})
	if err != nil {
		t.Fatal(err)
	}
	s18, err := a.session.CreateSession(as("tok-platform-0123456789", a.ctx()), &hushv1.CreateSessionRequest{CallId: "c18", AgentId: "a-18"})
	if err != nil {
		t.Fatal(err)
	}
	// Alice watches her call through b.
	wctx, cancel := context.WithCancel(as("tok-alice-0123456789", context.Background()))
	defer cancel()
	st, err := b.session.WatchSession(wctx, &hushv1.WatchSessionRequest{SessionId: s17.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := st.Recv(); err != nil || ev.GetSnapshot() == nil {
		t.Fatalf("alice's watch through b: %v %v", ev, err)
	}
	if _, err := b.session.StartSecureCapture(as("tok-alice-0123456789", b.ctx()),
		&hushv1.StartSecureCaptureRequest{SessionId: s17.SessionId}); err != nil {
		t.Fatalf("alice's own call through b: %v", err)
	}
	for range 10 {
		ev, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetSecureCapture() != nil {
			if ev.Actor != "alice" {
				t.Fatalf("capture event actor %q, want alice (not the forwarding node)", ev.Actor)
			}
			break
		}
	}
	for name, d := range map[string]*daemon{"a": a, "b": b} {
		_, err := d.session.StartSecureCapture(as("tok-alice-0123456789", d.ctx()), &hushv1.StartSecureCaptureRequest{SessionId: s18.SessionId})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("alice on bob's call through %s: %v, want PERMISSION_DENIED", name, err)
		}
		_, err = d.session.CreateSession(as("tok-alice-0123456789", d.ctx()), &hushv1.CreateSessionRequest{CallId: "x"})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("alice creating through %s: %v", name, err)
		}
	}
	// Nothing but a peer certificate gets through b's peer listener, even from loopback.
	cc, err := grpc.NewClient(b.ready.Peer, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = hushv1.NewSessionServiceClient(cc).GetSession(as("tok-platform-0123456789", b.ctx()), &hushv1.GetSessionRequest{SessionId: s17.SessionId})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext to the peer listener: %v, want the handshake refused", err)
	}
}

// TestClusterDirectoryDown: with Redis frozen, a node's own calls stay under control
// (each answer within the write timeout, most at once), media flows, /healthz and the
// gRPC health of hush.v1.Cluster say degraded, and the node still serves; thawed, health
// recovers and another node reads the changes made meanwhile.
func TestClusterDirectoryDown(t *testing.T) {
	rs := redistest.Start(t)
	p := testPrefix(t)
	a := startDaemon(t, clusterArgs(rs, p, "a")...)
	b := startDaemon(t, clusterArgs(rs, p, "b")...)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := a.session.CreateSession(a.ctx(), &hushv1.CreateSessionRequest{CallId: "call-1",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{RemoteAddr: agent.addr().String()},
		Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}}})
	if err != nil {
		t.Fatal(err)
	}
	health := healthpb.NewHealthClient(a.conn)
	check := func() healthpb.HealthCheckResponse_ServingStatus {
		r, err := health.Check(a.ctx(), &healthpb.HealthCheckRequest{Service: api.ClusterHealthService})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	if st := check(); st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("cluster health %v at start", st)
	}
	rs.Freeze()
	pollUntil(t, "cluster health NOT_SERVING with Redis frozen", func() bool { return check() == healthpb.HealthCheckResponse_NOT_SERVING })
	if body := healthz(t, a); !strings.Contains(body, "degraded") {
		t.Errorf("/healthz %q, want degraded", body)
	}
	var slowest time.Duration
	for i := range 10 {
		start := time.Now()
		var err error
		if i%2 == 0 {
			_, err = a.session.StartSecureCapture(a.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId})
		} else {
			_, err = a.session.StopSecureCapture(a.ctx(), &hushv1.StopSecureCaptureRequest{SessionId: s.SessionId})
		}
		if err != nil {
			t.Fatalf("control %d with Redis frozen: %v", i, err)
		}
		slowest = max(slowest, time.Since(start))
	}
	if slowest > 300*time.Millisecond+200*time.Millisecond {
		t.Errorf("slowest control with Redis frozen took %v (write timeout 300ms)", slowest)
	}
	pkt := newStream(1).next(t)
	settle(t, cust, agent, s.Customer.LocalAddr, pkt)
	if _, err := a.session.StartSecureCapture(a.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
	rs.Thaw()
	pollUntil(t, "cluster health to recover", func() bool { return check() == healthpb.HealthCheckResponse_SERVING })
	got, err := b.session.GetSession(b.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if err != nil || got.SecureCaptureState != hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON {
		t.Fatalf("through b after the thaw: %v %v", got.GetSecureCaptureState(), err)
	}
	if body := healthz(t, a); strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz %q after the thaw", body)
	}
	t.Logf("slowest control with Redis frozen: %v", slowest)
}

// pollUntil checks a state another process or goroutine changes every 20 ms until it
// holds, failing after twice the harness's wait.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	deadline := time.Now().Add(2 * wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tk.C
	}
}

func healthz(t *testing.T, d *daemon) string {
	t.Helper()
	resp, err := http.Get("http://" + d.ready.HTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz %d", resp.StatusCode)
	}
	return b.String()
}

// TestClusterDrainHandoff: Drain with handoff on a node hands its call to another node
// sharing its media address (here both bind 127.0.0.1 and the same port range): the call
// goes on on the same ports, the media gap is short, a watch through the other node
// follows it, and the drained node ends up with no session.
func TestClusterDrainHandoff(t *testing.T) {
	rs := redistest.Start(t)
	p := testPrefix(t)
	lo, hi := mediaRange(t, 40)
	same := []string{"--media-port-min", itoa(lo), "--media-port-max", itoa(hi)}
	a := startDaemon(t, clusterArgs(rs, p, "a", same...)...)
	b := startDaemon(t, clusterArgs(rs, p, "b", same...)...)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := a.session.CreateSession(a.ctx(), &hushv1.CreateSessionRequest{CallId: "call-1",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{RemoteAddr: agent.addr().String()},
		Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}}})
	if err != nil {
		t.Fatal(err)
	}
	st := newStream(3)
	settle(t, cust, agent, s.Customer.LocalAddr, st.next(t))
	w := b.watch(s.SessionId)
	start := time.Now()
	resp, err := a.admin.Drain(a.ctx(), &hushv1.DrainRequest{Handoff: true, Deadline: durationpb.New(time.Minute)})
	if err != nil || resp.ActiveSessions != 1 {
		t.Fatalf("drain: %v %v", resp, err)
	}
	mv := w.until(func(e *hushv1.SessionEvent) bool { return e.GetMoved() != nil }).GetMoved()
	took := time.Since(start)
	if mv.FromNode != "a" || mv.ToNode != "b" || mv.Reason != "handoff" {
		t.Fatalf("moved %+v", mv)
	}
	settle(t, cust, agent, s.Customer.LocalAddr, st.next(t))
	got, err := b.session.GetSession(b.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if err != nil || got.Node != "b" || got.Customer.LocalAddr != s.Customer.LocalAddr {
		t.Fatalf("on b: %v %v", got, err)
	}
	// Handoff on a node alone is refused, not silently a plain drain.
	solo := startDaemon(t)
	if _, err := solo.admin.Drain(solo.ctx(), &hushv1.DrainRequest{Handoff: true}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("handoff without a cluster: %v", err)
	}
	t.Logf("drain to the call running on b: %v", took)
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/auth"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

var auditTokens = map[string]auth.TokenEntry{
	"sbc":   {Subject: "sbc", Role: auth.RolePlatform},
	"alice": {Subject: "alice", Role: auth.RoleAgent, AgentID: "agent-1"},
	"bob":   {Subject: "bob", Role: auth.RoleAgent, AgentID: "agent-2"},
	"quinn": {Subject: "quinn", Role: auth.RoleQA},
	"siem":  {Subject: "siem", Role: auth.RoleAudit},
	"ops":   {Subject: "ops", Role: auth.RoleAdmin},
	"psp":   {Subject: "psp", Role: auth.RolePayment},
}

// auditDaemon starts a recording hushd with tokens and plays a few calls of two agents.
func auditDaemon(t *testing.T) (*daemon, map[string]string) {
	t.Helper()
	d := startDaemon(t, "--auth-mode", "token", "--auth-token-file", tokenFile(t, auditTokens),
		"--recording-enabled=true", "--recording-dir", t.TempDir(), "--monitor-enabled=false")
	calls := map[string]string{}
	for i, agent := range []string{"agent-1", "agent-2", "agent-1"} {
		call := fmt.Sprintf("aud-%d", i)
		s, err := d.session.CreateSession(as(d.ctx(), "sbc"), &hushv1.CreateSessionRequest{CallId: call, AgentId: agent,
			Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{}})
		if err != nil {
			t.Fatal(err)
		}
		calls[call] = s.SessionId
		who := map[string]string{"agent-1": "alice", "agent-2": "bob"}[agent]
		if _, err := d.session.PauseRecording(as(d.ctx(), who), &hushv1.PauseRecordingRequest{SessionId: s.SessionId, RequestId: call + "-p"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.session.ResumeRecording(as(d.ctx(), who), &hushv1.ResumeRecordingRequest{SessionId: s.SessionId, RequestId: call + "-r"}); err != nil {
			t.Fatal(err)
		}
	}
	return d, calls
}

func listAll(t *testing.T, c hushv1.AuditServiceClient, ctx context.Context, req *hushv1.ListAuditRecordsRequest) []*hushv1.AuditRecord {
	t.Helper()
	var out []*hushv1.AuditRecord
	for range 100 {
		resp, err := c.ListAuditRecords(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.Records...)
		if resp.NextPageToken == "" {
			return out
		}
		req.PageToken = resp.NextPageToken
	}
	t.Fatal("paging did not end")
	return nil
}

// AuditService answers queries by agent, call, action, actor and time, a page at a time;
// every record of a session carries its call and agent; the roles that may read the
// trail are qa, audit and admin.
func TestAuditQuery(t *testing.T) {
	d, calls := auditDaemon(t)
	c := hushv1.NewAuditServiceClient(d.conn)
	siem := as(d.ctx(), "siem")

	// agent-1's records: its two calls' create, pause, resume; one page of 2 at a time.
	recs := listAll(t, c, siem, &hushv1.ListAuditRecordsRequest{AgentId: "agent-1", PageSize: 2})
	if len(recs) != 6 {
		t.Fatalf("agent-1: %d records, want 6: %v", len(recs), recs)
	}
	for _, r := range recs {
		if r.AgentId != "agent-1" || (r.SessionId != calls["aud-0"] && r.SessionId != calls["aud-2"]) || r.CallId == "" {
			t.Errorf("agent-1's query gave %+v", r)
		}
	}
	// By call and action; by actor; by time.
	recs = listAll(t, c, siem, &hushv1.ListAuditRecordsRequest{CallId: "aud-1", Action: "recording.pause"})
	if len(recs) != 1 || recs[0].Actor != "bob" || recs[0].RequestId != "aud-1-p" || recs[0].AgentId != "agent-2" {
		t.Fatalf("aud-1's pause: %v", recs)
	}
	recs = listAll(t, c, siem, &hushv1.ListAuditRecordsRequest{Actor: "sbc", Action: "session.create"})
	if len(recs) != 3 {
		t.Fatalf("sbc's creates: %d, want 3", len(recs))
	}
	all := listAll(t, c, siem, &hushv1.ListAuditRecordsRequest{})
	mid := all[len(all)/2].Time
	// (Reading the trail adds audit.list records: bound the later half by the last record read.)
	end := timestamppb.New(all[len(all)-1].Time.AsTime().Add(time.Nanosecond))
	later := listAll(t, c, siem, &hushv1.ListAuditRecordsRequest{StartTime: mid, EndTime: end})
	earlier := listAll(t, c, siem, &hushv1.ListAuditRecordsRequest{EndTime: mid})
	if len(later)+len(earlier) != len(all) || len(later) == 0 || len(earlier) == 0 {
		t.Fatalf("split at %v: %d + %d records, want %d", mid.AsTime(), len(later), len(earlier), len(all))
	}
	if _, err := c.ListAuditRecords(siem, &hushv1.ListAuditRecordsRequest{StartTime: &timestamppb.Timestamp{Seconds: -1 << 62}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad start_time: %v", err)
	}

	// Who may read it.
	for name, want := range map[string]codes.Code{"siem": codes.OK, "quinn": codes.OK, "ops": codes.OK,
		"alice": codes.PermissionDenied, "sbc": codes.PermissionDenied, "psp": codes.PermissionDenied} {
		_, err := c.ListAuditRecords(as(d.ctx(), name), &hushv1.ListAuditRecordsRequest{PageSize: 1})
		if status.Code(err) != want {
			t.Errorf("%s lists the audit trail: %v, want %v", name, err, want)
		}
		wctx, cancel := context.WithCancel(as(context.Background(), name))
		st, err := c.WatchAuditRecords(wctx, &hushv1.WatchAuditRecordsRequest{StartSeq: 1})
		if err == nil {
			_, err = st.Recv()
		}
		cancel()
		if status.Code(err) != want {
			t.Errorf("%s follows the audit trail: %v, want %v", name, err, want)
		}
	}
}

// WatchAuditRecords: a follower gets the backlog, then every new record (filtered) as it is
// written; one resuming at a seq misses nothing; when hushd stops the stream ends
// UNAVAILABLE. hushctl audit tail and audit query print the same.
func TestAuditFollowAndHushctl(t *testing.T) {
	bin := buildHushctl(t)
	d, calls := auditDaemon(t)
	c := hushv1.NewAuditServiceClient(d.conn)
	ctx, cancel := context.WithCancel(as(context.Background(), "siem"))
	defer cancel()

	// The last 2 pauses, then each new pause.
	st, err := c.WatchAuditRecords(ctx, &hushv1.WatchAuditRecordsRequest{Action: "recording.pause", Backlog: 2})
	if err != nil {
		t.Fatal(err)
	}
	recv := func() *hushv1.AuditRecord {
		t.Helper()
		r, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if a, b := recv(), recv(); a.RequestId != "aud-1-p" || b.RequestId != "aud-2-p" {
		t.Fatalf("backlog %q %q, want aud-1-p aud-2-p", a.RequestId, b.RequestId)
	}

	// hushctl audit tail follows too (the last record first), as a SIEM's shipper would.
	tail := exec.CommandContext(ctx, bin, "--addr", d.ready.GRPC, "audit", "tail", "-n", "1", "--action", "recording.pause")
	tail.Env = append(tail.Environ(), "HUSHCTL_TOKEN="+browserToken("siem"))
	var tailErr bytes.Buffer
	tail.Stderr = &tailErr
	out, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	line := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("hushctl audit tail ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := line(); !strings.Contains(l, "recording.pause OK actor=alice role=agent") || !strings.Contains(l, "request=aud-2-p") {
		t.Fatalf("tail's backlog line: %s", l)
	}

	if _, err := d.session.PauseRecording(as(d.ctx(), "bob"), &hushv1.PauseRecordingRequest{SessionId: calls["aud-1"], RequestId: "live-p"}); err != nil {
		t.Fatal(err)
	}
	live := recv()
	if live.RequestId != "live-p" || live.AgentId != "agent-2" || live.CallId != "aud-1" {
		t.Fatalf("live record %+v", live)
	}
	if l := line(); !strings.Contains(l, "request=live-p") || !strings.Contains(l, "agent=agent-2") {
		t.Fatalf("tail's live line: %s", l)
	}

	// Resuming from a seq gets it and everything after, whatever the filter.
	st2, err := c.WatchAuditRecords(ctx, &hushv1.WatchAuditRecordsRequest{StartSeq: live.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st2.Recv(); err != nil || r.Seq != live.Seq || r.Hash != live.Hash {
		t.Fatalf("resumed at %d: %v %v", live.Seq, r, err)
	}

	// hushctl audit query.
	q := exec.Command(bin, "--addr", d.ready.GRPC, "audit", "query", "--agent-id", "agent-2", "--page-size", "1")
	q.Env = append(q.Environ(), "HUSHCTL_TOKEN="+browserToken("quinn"))
	qout, err := q.Output()
	if err != nil {
		t.Fatalf("hushctl audit query: %v", err)
	}
	if n := strings.Count(string(qout), "\n"); n != 4 || !strings.Contains(string(qout), "request=live-p") {
		t.Fatalf("hushctl audit query --agent-id agent-2 printed %d lines:\n%s", n, qout)
	}

	// hushd stops: the followers end UNAVAILABLE (resume later from the last seq + 1).
	d.cancel()
	if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("follower at stop: %v, want UNAVAILABLE", err)
	}
	io.Copy(io.Discard, out)
	var exit *exec.ExitError
	if err := tail.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(tailErr.String(), "Unavailable") {
		t.Fatalf("hushctl audit tail at hushd's stop: %v, stderr %q; want status 1 and Unavailable", err, tailErr.String())
	}
}

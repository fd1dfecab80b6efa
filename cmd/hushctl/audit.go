package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"google.golang.org/grpc"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// auditVerbs read hushd's audit trail over the API (roles audit, qa and admin);
// `audit verify FILE` checks a file offline.
var auditVerbs = []verb{
	{name: "query", help: "list audit records, oldest first; --session-id, --call-id, --agent-id, --actor, --action, --since, --until narrow it", flags: auditQueryFlags,
		long: `Every filter given must match. Records are printed a page at a time as they
come, up to --limit (0: all). hushd answers from an index of the log, so a
narrow query of a large log is quick.`},
	{name: "tail", help: "print the last -n records, then follow the trail as hushd writes it (until interrupted)", flags: auditTailFlags,
		long: `Follows WatchAuditRecords: the last -n matching records (or, with --from-seq,
every record from that seq on), then each new one as it is written. When hushd
stops, tail exits with UNAVAILABLE; run it again with --from-seq set to the last
seq printed plus one to miss nothing. The filters are those of audit query,
without --since and --until.`},
}

// auditFilterFlags registers the filters common to query and tail.
func auditFilterFlags(fs *flag.FlagSet) (session, call, agent, actor, action *string) {
	return fs.String("session-id", "", "only records of this session"),
		fs.String("call-id", "", "only records of this call id"),
		fs.String("agent-id", "", "only records of sessions bound to this agent (and its own requests)"),
		fs.String("actor", "", "only records of this actor (token subject, certificate CN, hushd)"),
		fs.String("action", "", "only records of this action (recording.pause, agent.suspicious, auth.denied, ...)")
}

func auditQueryFlags(fs *flag.FlagSet) connAction {
	session, call, agent, actor, action := auditFilterFlags(fs)
	since := fs.String("since", "", "only records written at or after this RFC 3339 `time`")
	until := fs.String("until", "", "only records written before this RFC 3339 `time`")
	limit := fs.Int("limit", 1000, "print at most this many records (0 = all)")
	pageSize := fs.Int("page-size", 0, "records per call (0 = server default)")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, _ []string) error {
		if *limit < 0 || *pageSize < 0 || *pageSize > 1<<30 {
			return usageErrorf("--limit and --page-size must be >= 0")
		}
		req := &hushv1.ListAuditRecordsRequest{SessionId: *session, CallId: *call, AgentId: *agent, Actor: *actor,
			Action: *action, PageSize: int32(*pageSize)}
		var err error
		if req.StartTime, err = rfc3339("--since", *since); err != nil {
			return err
		}
		if req.EndTime, err = rfc3339("--until", *until); err != nil {
			return err
		}
		c := hushv1.NewAuditServiceClient(cc)
		printed := 0
		for {
			cctx, cancel := a.callCtx(ctx)
			resp, err := c.ListAuditRecords(cctx, req)
			cancel()
			if err != nil {
				return err
			}
			for _, r := range resp.Records {
				if *limit > 0 && printed == *limit {
					fmt.Fprintf(a.stderr, "hushctl: stopped at --limit %d; more records match\n", *limit)
					return nil
				}
				if err := a.printAuditRecord(r); err != nil {
					return err
				}
				printed++
			}
			if resp.NextPageToken == "" {
				return nil
			}
			if resp.NextPageToken == req.PageToken {
				return fmt.Errorf("server repeated page token %q", resp.NextPageToken)
			}
			req.PageToken = resp.NextPageToken
		}
	}
}

func auditTailFlags(fs *flag.FlagSet) connAction {
	session, call, agent, actor, action := auditFilterFlags(fs)
	n := fs.Int("n", 10, "print the last `N` matching records first (at most 1000)")
	from := fs.Uint64("from-seq", 0, "start at this `seq` instead (1 = the start of the log), e.g. the last seq printed + 1")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, _ []string) error {
		if *n < 0 || *n > 1000 {
			return usageErrorf("-n must be between 0 and 1000")
		}
		st, err := hushv1.NewAuditServiceClient(cc).WatchAuditRecords(ctx, &hushv1.WatchAuditRecordsRequest{
			SessionId: *session, CallId: *call, AgentId: *agent, Actor: *actor, Action: *action,
			StartSeq: *from, Backlog: int32(*n)})
		if err != nil {
			return err
		}
		for {
			r, err := st.Recv()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted: a normal end of tail
				}
				return err
			}
			if err := a.printAuditRecord(r); err != nil {
				return err
			}
		}
	}
}

// printAuditRecord prints one record on one line: time, seq, action, outcome, then the
// fields it has.
func (a *app) printAuditRecord(r *hushv1.AuditRecord) error {
	if a.json {
		return a.printJSON(r, false)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %s %s actor=%s", stamp(r.GetTime()), r.GetSeq(), r.GetAction(), r.GetOutcome(), dash(r.GetActor()))
	for _, f := range []struct{ k, v string }{{"role", r.GetRole()}, {"session", r.GetSessionId()}, {"call", r.GetCallId()},
		{"agent", r.GetAgentId()}, {"request", r.GetRequestId()}} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s=%s", f.k, f.v)
		}
	}
	if r.GetDetail() != "" {
		b.WriteString(" detail=" + strconv.Quote(r.GetDetail()))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(a.stdout, b.String())
	return err
}

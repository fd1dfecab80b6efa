package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

type action = func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error

// verbs is the table of "session VERB" subcommands, in usage order.
var verbs = []verb{
	{name: "create", help: "create a session for a call; prints where each party must send media", flags: sessionVerb(createFlags)},
	{name: "get", args: "ID", npos: 1, help: "show one session", flags: sessionVerb(getFlags)},
	{name: "list", help: "list active sessions (all pages)", flags: sessionVerb(listFlags)},
	{name: "delete", args: "ID", npos: 1, help: "end a session and release its ports", flags: sessionVerb(deleteFlags)},
	{name: "watch", args: "ID", npos: 1, help: "stream a session's events until it ends (Ctrl-C stops)", flags: sessionVerb(watchFlags)},
	{name: "pause", args: "ID", npos: 1, help: "pause the session's recording", flags: sessionVerb(pauseFlags)},
	{name: "resume", args: "ID", npos: 1, help: "resume the session's recording", flags: sessionVerb(resumeFlags)},
	{name: "start-capture", args: "ID", npos: 1, help: "start secure capture of keyed digits", flags: sessionVerb(startCaptureFlags)},
	{name: "stop-capture", args: "ID", npos: 1, help: "stop secure capture", flags: sessionVerb(stopCaptureFlags)},
}

// sessionVerb adapts a verb written against the SessionService client.
func sessionVerb(flags func(*flag.FlagSet) action) func(*flag.FlagSet) connAction {
	return func(fs *flag.FlagSet) connAction {
		act := flags(fs)
		return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, pos []string) error {
			return act(ctx, a, hushv1.NewSessionServiceClient(cc), pos)
		}
	}
}

// labelsFlag collects repeated --label key=value.
type labelsFlag map[string]string

func (l labelsFlag) String() string { return "" }
func (l labelsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	l[k] = v
	return nil
}

func createFlags(fs *flag.FlagSet) action {
	req := &hushv1.CreateSessionRequest{Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{}}
	fs.StringVar(&req.CallId, "call-id", "", "the platform's call id (e.g. SIP Call-ID)")
	fs.StringVar(&req.AgentId, "agent-id", "", "the agent the session is bound to")
	fs.StringVar(&req.RequestId, "request-id", "", "idempotency key (derive it from the call): a repeat returns the same session; reusing it for another request is refused")
	fs.StringVar(&req.Customer.RemoteAddr, "customer-remote", "", "customer's RTP `host:port` (empty = latch from its packets)")
	fs.StringVar(&req.Agent.RemoteAddr, "agent-remote", "", "agent's RTP `host:port` (empty = latch from its packets)")
	fs.StringVar(&req.Customer.ExpectedIp, "customer-expected-ip", "", "latch the customer only to media from this `ip` (any port)")
	fs.StringVar(&req.Agent.ExpectedIp, "agent-expected-ip", "", "latch the agent only to media from this `ip` (any port)")
	mux := fs.Bool("rtcp-mux", false, "RTP and RTCP on one port on both legs (RFC 5761)")
	tePT := fs.Uint("telephone-event-pt", 0, "RFC 4733 telephone-event payload type on both legs, 96-127 (0 = none)")
	labels := labelsFlag{}
	fs.Var(labels, "label", "`key=value` label copied to events and recordings (repeatable)")
	quiet := fs.Bool("quiet", false, "print only the session id (for scripts: sid=$(hushctl session create --quiet ...))")
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, _ []string) error {
		if *tePT > 127 {
			return usageErrorf("--telephone-event-pt must be at most 127, got %d", *tePT)
		}
		for _, leg := range []*hushv1.Leg{req.Customer, req.Agent} {
			leg.RtcpMux = *mux
			leg.TelephoneEventPt = uint32(*tePT)
		}
		if len(labels) > 0 {
			req.Labels = labels
		}
		if *quiet {
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			s, err := c.CreateSession(ctx, req)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, s.GetSessionId())
			return err
		}
		return a.unary(ctx, func(ctx context.Context) (*hushv1.Session, error) { return c.CreateSession(ctx, req) })
	}
}

func getFlags(*flag.FlagSet) action {
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error {
		req := &hushv1.GetSessionRequest{SessionId: pos[0]}
		return a.unary(ctx, func(ctx context.Context) (*hushv1.Session, error) { return c.GetSession(ctx, req) })
	}
}

// maxPages bounds following next_page_token, against a server that never
// stops paging.
const maxPages = 10000

func listFlags(fs *flag.FlagSet) action {
	req := &hushv1.ListSessionsRequest{}
	fs.StringVar(&req.AgentId, "agent-id", "", "only this agent's sessions")
	fs.StringVar(&req.CallId, "call-id", "", "only the session of this call id")
	pageSize := fs.Int("page-size", 0, "sessions per call (0 = server default)")
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, _ []string) error {
		if *pageSize < 0 || *pageSize > 1<<30 {
			return usageErrorf("--page-size must be >= 0, got %d", *pageSize)
		}
		req.PageSize = int32(*pageSize)
		all := &hushv1.ListSessionsResponse{}
		seen := map[string]bool{}
		for range maxPages {
			ctx, cancel := a.callCtx(ctx)
			resp, err := c.ListSessions(ctx, req)
			cancel()
			if err != nil {
				return err
			}
			all.Sessions = append(all.Sessions, resp.Sessions...)
			all.TotalSize = resp.TotalSize
			next := resp.NextPageToken
			if next == "" {
				return a.printSessions(all)
			}
			if seen[next] {
				return fmt.Errorf("server repeated page token %q", next)
			}
			seen[next] = true
			req.PageToken = next
		}
		return fmt.Errorf("more than %d pages; narrow the list with --agent-id or --call-id", maxPages)
	}
}

func deleteFlags(fs *flag.FlagSet) action {
	req := &hushv1.DeleteSessionRequest{}
	fs.StringVar(&req.RequestId, "request-id", "", "idempotency key")
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error {
		req.SessionId = pos[0]
		return a.unary(ctx, func(ctx context.Context) (*hushv1.Session, error) { return c.DeleteSession(ctx, req) })
	}
}

func watchFlags(*flag.FlagSet) action {
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error {
		stream, err := c.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: pos[0]})
		if err != nil {
			return err
		}
		for { // ends when the server closes the stream or ctx is cancelled
			ev, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted by the user
				}
				return err
			}
			if err := a.printEvent(ev); err != nil {
				return err
			}
		}
	}
}

func pauseFlags(fs *flag.FlagSet) action {
	req := &hushv1.PauseRecordingRequest{}
	fs.StringVar(&req.RequestId, "request-id", "", "idempotency key")
	fs.StringVar(&req.Reason, "reason", "", "why, for QA and the audit trail (no card data)")
	behavior := fs.String("behavior", "", "silence (keep the timeline) or skip (leave paused time out); empty = server default")
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error {
		switch *behavior {
		case "":
		case "silence":
			req.Behavior = hushv1.PauseBehavior_PAUSE_BEHAVIOR_SILENCE
		case "skip":
			req.Behavior = hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP
		default:
			return usageErrorf("--behavior must be silence or skip, got %q", *behavior)
		}
		req.SessionId = pos[0]
		return a.unary(ctx, func(ctx context.Context) (*hushv1.Session, error) { return c.PauseRecording(ctx, req) })
	}
}

func resumeFlags(fs *flag.FlagSet) action {
	req := &hushv1.ResumeRecordingRequest{}
	fs.StringVar(&req.RequestId, "request-id", "", "idempotency key")
	fs.StringVar(&req.Reason, "reason", "", "why, for QA and the audit trail (no card data)")
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error {
		req.SessionId = pos[0]
		return a.unary(ctx, func(ctx context.Context) (*hushv1.Session, error) { return c.ResumeRecording(ctx, req) })
	}
}

func startCaptureFlags(fs *flag.FlagSet) action {
	req := &hushv1.StartSecureCaptureRequest{}
	fs.StringVar(&req.RequestId, "request-id", "", "idempotency key")
	maxDigits := fs.Uint("max-digits", 0, "stop after this many digits (0 = no limit)")
	interDigit := fs.Duration("inter-digit-timeout", 0, "stop after this long without a digit (0 = none)")
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error {
		if *maxDigits > 1<<16 {
			return usageErrorf("--max-digits too large: %d", *maxDigits)
		}
		if *interDigit < 0 {
			return usageErrorf("--inter-digit-timeout must not be negative, got %v", *interDigit)
		}
		req.SessionId = pos[0]
		req.MaxDigits = uint32(*maxDigits)
		if *interDigit > 0 {
			req.InterDigitTimeout = durationpb.New(*interDigit)
		}
		return a.unary(ctx, func(ctx context.Context) (*hushv1.Session, error) { return c.StartSecureCapture(ctx, req) })
	}
}

func stopCaptureFlags(fs *flag.FlagSet) action {
	req := &hushv1.StopSecureCaptureRequest{}
	fs.StringVar(&req.RequestId, "request-id", "", "idempotency key")
	return func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error {
		req.SessionId = pos[0]
		return a.unary(ctx, func(ctx context.Context) (*hushv1.Session, error) { return c.StopSecureCapture(ctx, req) })
	}
}

// unary makes one call returning a Session under --timeout and prints it.
func (a *app) unary(ctx context.Context, call func(context.Context) (*hushv1.Session, error)) error {
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	s, err := call(ctx)
	if err != nil {
		return err
	}
	return a.printSession(s)
}

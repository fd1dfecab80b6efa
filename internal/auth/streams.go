package auth

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
)

// openStream is one stream the Authorizer let through, while it runs.
type openStream struct {
	method string
	cred   credential
	client string // streamTable's per-client key
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // fires when the certificate expires
	ended  atomic.Bool // by revocation, reported once
}

// revokedError is the cause an ended stream's context carries.
type revokedError struct{ reason string }

func (e *revokedError) Error() string { return "credential revoked: " + e.reason }

// streamTable is the set of open streams and their count per client.
type streamTable struct {
	max       int
	mu        sync.Mutex
	open      map[*openStream]struct{}
	perClient map[string]int
}

func (t *streamTable) init(max int) {
	t.max = max
	t.open = map[*openStream]struct{}{}
	t.perClient = map[string]int{}
}

// add registers st unless its client is at the cap.
func (t *streamTable) add(st *openStream) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.max > 0 && t.perClient[st.client] >= t.max {
		return false
	}
	t.perClient[st.client]++
	t.open[st] = struct{}{}
	return true
}

func (t *streamTable) remove(st *openStream) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st.timer != nil {
		st.timer.Stop()
	}
	delete(t.open, st)
	if t.perClient[st.client]--; t.perClient[st.client] <= 0 {
		delete(t.perClient, st.client)
	}
}

func (t *streamTable) snapshot() []*openStream {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*openStream, 0, len(t.open))
	for st := range t.open {
		out = append(out, st)
	}
	return out
}

// OpenStreams is the number of streams open now.
func (a *Authorizer) OpenStreams() int {
	a.streams.mu.Lock()
	defer a.streams.mu.Unlock()
	return len(a.streams.open)
}

// Recheck judges the credential of every open stream again, as the token file and the
// client trust stand now, and ends those no longer valid: a token removed or mapped to
// another identity, a certificate revoked, expired or no longer issued by a trusted CA.
// Each ended stream gets UNAUTHENTICATED and is reported to OnRevoked. hushd calls it
// after every credential reload. It returns how many streams it ended.
func (a *Authorizer) Recheck() int {
	n := 0
	for _, st := range a.streams.snapshot() {
		if a.recheck(st) {
			n++
		}
	}
	return n
}

// recheck ends st if its credential no longer holds.
func (a *Authorizer) recheck(st *openStream) bool {
	reason := a.revocation(st.cred)
	if reason == "" || st.ctx.Err() != nil || !st.ended.CompareAndSwap(false, true) {
		return false
	}
	st.cancel(&revokedError{reason: reason})
	if a.o.OnRevoked != nil {
		a.o.OnRevoked(st.ctx, st.method, st.cred.id, codes.Unauthenticated, reason)
	}
	return true
}

// revocation says why a credential no longer holds, or "" when it does.
func (a *Authorizer) revocation(c credential) string {
	if c.peer != nil {
		if err := a.o.Peers.CheckChain(c.peer); err != nil {
			return "cluster peer: " + err.Error()
		}
	}
	switch c.id.Method {
	case MethodToken:
		id, ok := a.o.Tokens.lookupHash(c.tokenHash)
		switch {
		case !ok:
			return "token removed from the token file"
		case id != c.id:
			return "token now maps to another identity"
		}
	case MethodCert:
		if c.chain == nil {
			return "" // forwarded by a peer: the node holding the caller's stream rechecks it
		}
		if err := a.o.Certs.CheckChain(c.chain); err != nil {
			return err.Error()
		}
	case MethodOIDC:
		if !a.now().Before(c.expires) {
			return "token expired"
		}
	}
	return ""
}

// watchExpiry ends a stream when its credential expires (a certificate chain, a JWT).
// The timer re-arms when it fires early.
func (a *Authorizer) watchExpiry(st *openStream) {
	var fire func()
	fire = func() {
		if !a.recheck(st) && st.ctx.Err() == nil {
			if d := st.cred.expires.Sub(a.now()); d > 0 {
				a.streams.mu.Lock()
				st.timer = time.AfterFunc(d+time.Millisecond, fire)
				a.streams.mu.Unlock()
			}
		}
	}
	a.streams.mu.Lock()
	defer a.streams.mu.Unlock()
	// x509 validity is inclusive of NotAfter; a millisecond past it the chain fails.
	st.timer = time.AfterFunc(st.cred.expires.Sub(a.now())+time.Millisecond, fire)
}

// streamClient names the client a stream counts against: its identity once
// authenticated; its IP address in mode none and for health checks.
func streamClient(ctx context.Context, id Identity, exempt bool) string {
	if !exempt && id.Method != MethodNone && id.Subject != "" {
		return id.Method + ":" + string(id.Role) + ":" + id.Subject
	}
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "ip:unknown"
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return "ip:" + p.Addr.String()
	}
	return "ip:" + host
}

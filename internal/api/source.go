package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/session"
)

// noteControl tells agent-activity monitoring where an agent's control request on a
// session came from, so a call controlled from a second place is flagged. Platforms and
// operators are not checked: their requests legitimately come from several hosts.
func (s *SessionServer) noteControl(ctx context.Context, sessionID, requestID string) {
	id, _ := auth.FromContext(ctx)
	if id.Role != auth.RoleAgent || s.reg == nil {
		return
	}
	s.reg.NoteControl(sessionID, session.Control{Actor: id.Subject, RequestID: requestID, Source: controlSource(ctx)})
}

// controlSource names where a call came from: the peer's IP address (the browser's, for a
// call through the HTTP gateway) and, when it presented one, the fingerprint of its
// verified client certificate. "" when unknown.
func controlSource(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	src := p.Addr.String()
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		src = tcp.IP.String()
	} else if host, _, err := net.SplitHostPort(src); err == nil {
		src = host
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0 {
		sum := sha256.Sum256(ti.State.VerifiedChains[0][0].Raw)
		src += " cert " + hex.EncodeToString(sum[:8])
	}
	return src
}

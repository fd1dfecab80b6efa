package api

import (
	"context"
	"crypto/sha256"

	"google.golang.org/protobuf/proto"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/session"
)

// request is the session layer's idempotency key of a mutating request: the request_id,
// scoped to the authenticated caller, and a digest of the whole request, so that a repeat
// can be told from a different request that reuses the id.
func request(ctx context.Context, requestID string, m proto.Message) session.Request {
	return session.Request{ID: requestID, Caller: callerKey(ctx), Digest: digest(m)}
}

// callerKey names who is calling: how it authenticated, its role, subject and agent id.
// Two callers never share a key, even with equal subjects under different roles.
func callerKey(ctx context.Context) string {
	id, _ := auth.FromContext(ctx)
	return id.Method + "\x00" + string(id.Role) + "\x00" + id.Subject + "\x00" + id.AgentID
}

// digest is the SHA-256 of the request's deterministic protobuf encoding: every field,
// so any difference makes another request. A request that cannot be encoded gets the zero
// digest, which the session layer refuses.
func digest(m proto.Message) session.Digest {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return session.Digest{}
	}
	return sha256.Sum256(b)
}

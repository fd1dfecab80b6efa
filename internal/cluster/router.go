package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/hushmedia/hush/internal/auth"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Router answers requests for sessions other nodes run as if they ran here: it forwards
// them to the owner's peer listener. It sits after authentication and authorization in
// the client listener's interceptor chain (the caller is judged here, at the edge, and
// again by the owner); its Peer interceptors guard the peer listener.
type Router struct {
	n      *Node
	dial   func(addr string) (*grpc.ClientConn, error)
	follow time.Duration
	hooks  RouterHooks

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// RouterHooks observe forwarding for metrics.
type RouterHooks struct {
	// Forwarded: a request went to another node, with the code it came back with.
	Forwarded func(method, code string)
}

// NewRouter makes the router of node n. dial connects to a peer listener (with the
// cluster's mTLS); follow is how long a request or a watch waits for a moving session's
// new owner.
func NewRouter(n *Node, dial func(addr string) (*grpc.ClientConn, error), follow time.Duration, hooks RouterHooks) *Router {
	return &Router{n: n, dial: dial, follow: follow, hooks: hooks, conns: map[string]*grpc.ClientConn{}}
}

// Close closes the connections to peers.
func (rt *Router) Close() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for addr, cc := range rt.conns {
		_ = cc.Close()
		delete(rt.conns, addr)
	}
}

// Session-scoped unary methods, each answering with the session: the changes (written to
// the directory before the answer) and the reads.
var (
	mutating = map[string]bool{
		hushv1.SessionService_UpdateSession_FullMethodName:      true,
		hushv1.SessionService_DeleteSession_FullMethodName:      true,
		hushv1.SessionService_PauseRecording_FullMethodName:     true,
		hushv1.SessionService_ResumeRecording_FullMethodName:    true,
		hushv1.SessionService_StartSecureCapture_FullMethodName: true,
		hushv1.SessionService_StopSecureCapture_FullMethodName:  true,
	}
	scoped = func() map[string]bool {
		m := map[string]bool{hushv1.SessionService_GetSession_FullMethodName: true}
		for k := range mutating {
			m[k] = true
		}
		return m
	}()
)

type sessionScoped interface{ GetSessionId() string }

// pos names an owner process, to wait for another one.
type pos struct{ node, inst string }

// locate finds the peer listener of a session's owner. errLocal: it runs here;
// errNotFound: no node runs it; ErrMoving: its owner is dead or restarting, or it is
// being restored here. not skips an owner that just failed.
func (rt *Router) locate(ctx context.Context, id string, not pos) (string, pos, error) {
	if _, err := rt.n.reg.Get(id); err == nil {
		return "", pos{rt.n.o.Node, rt.n.inst}, errLocal
	}
	o, ok, err := rt.n.dir.owner(ctx, id)
	switch {
	case err != nil:
		return "", pos{}, err
	case !ok:
		return "", pos{}, errNotFound
	case o.Node == rt.n.o.Node || (pos{o.Node, o.Inst}) == not:
		return "", pos{}, ErrMoving
	}
	// The last scan's view of the owner saves a round trip; a stale one costs a failed
	// call, after which the owner is looked up again.
	ni := rt.n.peer(o.Node)
	if ni == nil || ni.Inst != o.Inst || not.node != "" {
		if ni, err = rt.n.dir.node(ctx, o.Node); err != nil {
			return "", pos{}, err
		}
	}
	if ni == nil || ni.Inst != o.Inst {
		return "", pos{}, ErrMoving // dead or restarted: a takeover is due
	}
	return ni.Peer, pos{o.Node, o.Inst}, nil
}

// locateWait is locate, waiting up to the follow time while the session moves.
func (rt *Router) locateWait(ctx context.Context, id string, not pos) (string, pos, error) {
	ctx, cancel := context.WithTimeout(ctx, rt.follow)
	defer cancel()
	t := time.NewTicker(quietPoll)
	defer t.Stop()
	for {
		peer, at, err := rt.locate(ctx, id, not)
		if !errors.Is(err, ErrMoving) {
			return peer, at, err
		}
		select {
		case <-ctx.Done():
			return "", pos{}, ErrMoving
		case <-t.C:
		}
	}
}

func (rt *Router) conn(addr string) (*grpc.ClientConn, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if cc := rt.conns[addr]; cc != nil {
		return cc, nil
	}
	cc, err := rt.dial(addr)
	if err != nil {
		return nil, err
	}
	rt.conns[addr] = cc
	return cc, nil
}

func locateStatus(err error) error {
	switch {
	case errors.Is(err, ErrMoving):
		return status.Error(codes.Unavailable, ErrMoving.Error())
	case errors.Is(err, ErrDirectory):
		return status.Error(codes.Unavailable, "the session runs on another node and the session directory is unreachable; retry")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "the session's node cannot be reached; retry")
}

// Unary forwards session-scoped requests for sessions other nodes run, and has every
// change made here (and every session created here) reach the directory before it
// answers, within the write timeout.
func (rt *Router) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if info.FullMethod == hushv1.SessionService_CreateSession_FullMethodName {
			resp, err := handler(ctx, req)
			if s, ok := resp.(*hushv1.Session); ok && err == nil {
				_ = rt.n.Sync(ctx, s.GetSessionId())
			}
			return resp, err
		}
		sr, ok := req.(sessionScoped)
		if !scoped[info.FullMethod] || !ok || sr.GetSessionId() == "" {
			return handler(ctx, req)
		}
		id := sr.GetSessionId()
		var not pos
		for attempt := 0; ; attempt++ {
			peer, at, err := rt.locateWait(ctx, id, not)
			switch {
			case errors.Is(err, errLocal), errors.Is(err, errNotFound):
				resp, err := handler(ctx, req)
				if err == nil && mutating[info.FullMethod] {
					_ = rt.n.Sync(ctx, id)
				}
				return resp, err
			case err != nil:
				return nil, locateStatus(err)
			}
			resp, err := rt.invoke(ctx, peer, info.FullMethod, req)
			// The owner died or let the session go between lookup and call: once more.
			if status.Code(err) == codes.Unavailable && attempt == 0 {
				not = at
				continue
			}
			return resp, err
		}
	}
}

func (rt *Router) invoke(ctx context.Context, peer, method string, req any) (any, error) {
	out, err := auth.ForwardContext(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	cc, err := rt.conn(peer)
	if err != nil {
		return nil, status.Error(codes.Unavailable, "the session's node cannot be reached; retry")
	}
	resp := new(hushv1.Session)
	err = cc.Invoke(out, method, req, resp)
	if h := rt.hooks.Forwarded; h != nil {
		h(method, status.Code(err).String())
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// maxHops bounds how often one watch follows its session to another node.
const maxHops = 64

// Stream forwards WatchSession to the session's owner and follows the session when it
// moves (a takeover or a handoff): the watcher's stream goes on with the new owner's
// snapshot and its moved event. CollectDigits is never forwarded: card digits stay in the
// memory of the node that captured them; a payment client must reach that node.
func (rt *Router) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		switch info.FullMethod {
		case hushv1.SessionService_WatchSession_FullMethodName:
			return rt.watch(srv, ss, handler)
		case hushv1.PaymentService_CollectDigits_FullMethodName:
			return rt.collect(srv, ss, handler)
		}
		return handler(srv, ss)
	}
}

func (rt *Router) watch(srv any, ss grpc.ServerStream, handler grpc.StreamHandler) error {
	req := new(hushv1.WatchSessionRequest)
	if err := ss.RecvMsg(req); err != nil {
		return err
	}
	ctx := ss.Context()
	id := req.GetSessionId()
	var not pos
	for hop := 0; hop < maxHops; hop++ {
		peer, at, err := rt.locateWait(ctx, id, not)
		var moved bool
		switch {
		case errors.Is(err, errLocal) || errors.Is(err, errNotFound) && hop == 0:
			moved, err = rt.watchLocal(srv, ss, req, handler)
		case errors.Is(err, errNotFound):
			return status.Error(codes.NotFound, "session ended while it moved")
		case err != nil:
			return locateStatus(err)
		default:
			moved, err = rt.watchRemote(ctx, ss, peer, req)
		}
		if !moved || ctx.Err() != nil {
			return err
		}
		not = at
	}
	return status.Error(codes.Unavailable, "session moved too often; watch again")
}

// watchLocal runs the local handler; a session that ends here because it moved is not
// the watcher's end: moved says to follow it.
func (rt *Router) watchLocal(srv any, ss grpc.ServerStream, req *hushv1.WatchSessionRequest, handler grpc.StreamHandler) (bool, error) {
	ws := &followStream{replayStream: replayStream{ServerStream: ss, req: req}}
	err := handler(srv, ws)
	return ws.moved, err
}

// replayStream gives the handler the request an interceptor already read.
type replayStream struct {
	grpc.ServerStream
	req proto.Message
}

func (s *replayStream) RecvMsg(m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Error(codes.Internal, "internal error")
	}
	proto.Merge(pm, s.req)
	return nil
}

// followStream is a replayStream that holds back an ended event whose reason is moved.
type followStream struct {
	replayStream
	moved bool
}

func (s *followStream) SendMsg(m any) error {
	if movedAway(m) {
		s.moved = true
		return nil
	}
	return s.ServerStream.SendMsg(m)
}

func movedAway(m any) bool {
	ev, ok := m.(*hushv1.SessionEvent)
	return ok && ev.GetEnded() != nil && ev.GetEnded().GetReason() == hushv1.EndReason_END_REASON_MOVED
}

// watchRemote relays the owner's watch stream; moved reports that the owner lost the
// session (it ended there as moved, or the owner went away).
func (rt *Router) watchRemote(ctx context.Context, ss grpc.ServerStream, peer string, req *hushv1.WatchSessionRequest) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out, err := auth.ForwardContext(ctx)
	if err != nil {
		return false, status.Error(codes.Internal, "internal error")
	}
	cc, err := rt.conn(peer)
	if err != nil {
		return true, nil
	}
	method := hushv1.SessionService_WatchSession_FullMethodName
	cs, err := cc.NewStream(out, &hushv1.SessionService_ServiceDesc.Streams[0], method)
	if err == nil {
		err = cs.SendMsg(req)
	}
	if err == nil {
		err = cs.CloseSend()
	}
	if err != nil {
		return status.Code(err) == codes.Unavailable, ignoreUnavailable(err)
	}
	for {
		ev := new(hushv1.SessionEvent)
		err := cs.RecvMsg(ev)
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			if h := rt.hooks.Forwarded; h != nil {
				h(method, status.Code(err).String())
			}
			return status.Code(err) == codes.Unavailable, ignoreUnavailable(err)
		}
		if movedAway(ev) {
			return true, nil
		}
		if err := ss.SendMsg(ev); err != nil {
			return false, err
		}
	}
}

func ignoreUnavailable(err error) error {
	if status.Code(err) == codes.Unavailable {
		return nil
	}
	return err
}

func (rt *Router) collect(srv any, ss grpc.ServerStream, handler grpc.StreamHandler) error {
	req := new(hushv1.CollectDigitsRequest)
	if err := ss.RecvMsg(req); err != nil {
		return err
	}
	id := req.GetSessionId()
	if _, err := rt.n.reg.Get(id); err != nil && id != "" {
		if o, ok, err := rt.n.dir.owner(ss.Context(), id); err == nil && ok && o.Node != rt.n.o.Node {
			return status.Error(codes.FailedPrecondition, fmt.Sprintf(
				"the session runs on node %s: collect its digits there (card digits never cross nodes)", o.Node))
		}
	}
	return handler(srv, &replayStream{ServerStream: ss, req: req})
}

// PeerUnary and PeerStream guard the peer listener: a forwarded request for a session
// that no longer runs here (it moved since the forwarding node looked) is UNAVAILABLE,
// so the forwarding node looks again, never NOT_FOUND.
func (rt *Router) PeerUnary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if sr, ok := req.(sessionScoped); ok && scoped[info.FullMethod] && !rt.runs(sr.GetSessionId()) {
			return nil, status.Error(codes.Unavailable, "the session does not run on this node (it moved); retry")
		}
		resp, err := handler(ctx, req)
		if sr, ok := req.(sessionScoped); ok && err == nil && mutating[info.FullMethod] {
			_ = rt.n.Sync(ctx, sr.GetSessionId())
		}
		return resp, err
	}
}

// PeerStream: see PeerUnary.
func (rt *Router) PeerStream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if info.FullMethod != hushv1.SessionService_WatchSession_FullMethodName {
			return handler(srv, ss)
		}
		req := new(hushv1.WatchSessionRequest)
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		if !rt.runs(req.GetSessionId()) {
			return status.Error(codes.Unavailable, "the session does not run on this node (it moved); retry")
		}
		return handler(srv, &replayStream{ServerStream: ss, req: req})
	}
}

func (rt *Router) runs(id string) bool {
	_, err := rt.n.reg.Get(id)
	return err == nil
}

// AgentOf is the agent a session is bound to, wherever it runs (auth.SessionOwner):
// the local registry first, else the directory, within a second.
func (rt *Router) AgentOf(id string) (string, bool) {
	if a, ok := rt.n.reg.AgentOf(id); ok {
		return a, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, data, ok, err := rt.n.dir.load(ctx, id)
	if err != nil || !ok {
		return "", false
	}
	snap, err := decodeRecord(data)
	if err != nil {
		return "", false
	}
	return snap.AgentID, true
}

var _ auth.SessionOwner = (*Router)(nil)

package session

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The reported cross-connect: a second call created with the first call's request id got
// the first call's session. It must be refused, and nothing may change.
func TestCreateReusedRequestIDForAnotherCallIsRefused(t *testing.T) {
	h := newHarness(t, 8, 10)
	first, err := h.reg.Create(spec("dup-1", "r1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.reg.Create(spec("dup-2", "r1"))
	if !errors.Is(err, ErrRequestIDReused) {
		t.Fatalf("dup-2 with dup-1's request id: got session %q (call %q), err %v; want ErrRequestIDReused",
			got.ID, got.CallID, err)
	}
	if got.ID != "" {
		t.Fatalf("a refused request answered with session %q", got.ID)
	}
	if h.reg.Len() != 1 || len(h.media) != 1 {
		t.Fatalf("refused request changed something: sessions=%d media=%d", h.reg.Len(), len(h.media))
	}
	// The first request, repeated, still gets its own session.
	again, err := h.reg.Create(spec("dup-1", "r1"))
	if err != nil || again.ID != first.ID || again.CallID != "dup-1" {
		t.Fatalf("repeat of the first request: %+v %v", again, err)
	}
	// dup-2 with a fresh request id is a new session.
	if b, err := h.reg.Create(spec("dup-2", "r2")); err != nil || b.ID == first.ID {
		t.Fatalf("dup-2 with its own request id: %+v %v", b, err)
	}
}

// Keys are scoped to a caller, a method and a session: the same request id elsewhere is a
// different request.
func TestRequestIDScopes(t *testing.T) {
	h := newHarness(t, 16, 10)
	a := spec("call-a", "r1")
	a.Caller = "platform-a"
	b := spec("call-b", "r1")
	b.Caller = "platform-b"
	sa, err := h.reg.Create(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := h.reg.Create(b)
	if err != nil || sb.ID == sa.ID {
		t.Fatalf("another caller's r1 got %+v %v", sb, err)
	}

	// Same caller, same id, another method: a different request.
	q := Request{ID: "r1", Caller: "platform-a", Digest: sha256.Sum256([]byte("pause"))}
	if _, err := h.reg.Pause(sa.ID, PauseSilence, "platform-a", q, ""); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("pause with create's request id: %v (want the pause itself to run)", err)
	}

	// Same caller, id and body on two sessions: each runs.
	for _, id := range []string{sa.ID, sb.ID} {
		q := Request{ID: "stop-1", Caller: "platform-a", Digest: sha256.Sum256([]byte("stop"))}
		in, err := h.reg.StopCapture(id, q, "platform-a")
		if err != nil || in.ID != id {
			t.Fatalf("stop on %s: answered for %q, %v", id, in.ID, err)
		}
	}
}

// A repeated session request gets the same session back and changes nothing; the same id
// with another body is refused, before anything changes.
func TestUpdateRepeatAndConflict(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, err := h.reg.Create(spec("call-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	m := h.mediaOf(t, 0)
	r1 := netip.MustParseAddrPort("192.0.2.1:4000")
	r2 := netip.MustParseAddrPort("192.0.2.2:4000")
	upd := func(to netip.AddrPort) Update {
		return Update{RequestID: "u1", Caller: "test", Digest: sha256.Sum256([]byte(to.String())),
			Agent: &LegUpdate{Remote: &to}}
	}
	if _, err := h.reg.Update(in.ID, upd(r1)); err != nil {
		t.Fatal(err)
	}
	if got, err := h.reg.Update(in.ID, upd(r1)); err != nil || got.Agent.Remote != r1 {
		t.Fatalf("repeat: %v %v", got.Agent.Remote, err)
	}
	_, err = h.reg.Update(in.ID, upd(r2))
	if !errors.Is(err, ErrRequestIDReused) {
		t.Fatalf("u1 reused for another remote: %v", err)
	}
	now, _ := h.reg.Get(in.ID)
	if now.Agent.Remote != r1 || m.setCalls != 1 {
		t.Fatalf("refused update changed the session: remote %v, SetLeg calls %d", now.Agent.Remote, m.setCalls)
	}
}

// A repeat after the session ended gets the final state, never the live-looking first
// answer whose ports may by now belong to another call.
func TestRepeatAfterEndAnswersEnded(t *testing.T) {
	h := newHarness(t, 8, 10)
	first, err := h.reg.Create(spec("call-1", "r1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Delete(first.ID, rq("d1"), "platform"); err != nil {
		t.Fatal(err)
	}
	again, err := h.reg.Create(spec("call-1", "r1"))
	if err != nil || again.ID != first.ID || again.State != Ended || again.EndReason != EndDeleted {
		t.Fatalf("create repeated after delete: %+v %v", again, err)
	}
	del, err := h.reg.Delete(first.ID, rq("d1"), "platform")
	if err != nil || del.State != Ended {
		t.Fatalf("delete repeated: %+v %v", del, err)
	}
	if len(h.media) != 1 {
		t.Fatalf("a repeat allocated media: %d", len(h.media))
	}
}

// Ids are remembered for the TTL only; a failed request is not remembered at all, so its
// retry runs again.
func TestRequestIDLifetime(t *testing.T) {
	h := newHarness(t, 8, 10)
	a, err := h.reg.Create(spec("call-1", "r1"))
	if err != nil {
		t.Fatal(err)
	}
	// r2 for the same call fails: call id taken. Not remembered.
	if _, err := h.reg.Create(spec("call-1", "r2")); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate call id: %v", err)
	}
	if _, err := h.reg.Delete(a.ID, Request{}, ""); err != nil {
		t.Fatal(err)
	}
	b, err := h.reg.Create(spec("call-1", "r2"))
	if err != nil || b.ID == a.ID {
		t.Fatalf("retry of a failed request: %+v %v", b, err)
	}
	// After the TTL r1 is free again, even for another body.
	h.clock.Advance(requestTTL)
	if _, err := h.reg.Create(spec("call-3", "r1")); err != nil {
		t.Fatalf("r1 after its TTL: %v", err)
	}
}

func TestRequestWithoutDigestRefused(t *testing.T) {
	h := newHarness(t, 8, 10)
	if _, err := h.reg.Create(Spec{CallID: "c", RequestID: "r1"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("request id without digest: %v", err)
	}
	if h.reg.Len() != 0 {
		t.Fatal("created a session")
	}
}

// The cache's states for one key: first, wait while in flight, replay once done; a
// different digest conflicts whether in flight or done; a failed first is forgotten.
func TestRequestCacheStates(t *testing.T) {
	c := newRequestCache(time.Minute, 10)
	now := time.Unix(1000, 0)
	k := reqKey{caller: "p", op: opCreate, id: "r1"}
	d1, d2 := Digest{1}, Digest{2}
	if st, _, _ := c.begin(k, d1, now); st != beginFirst {
		t.Fatalf("first: %v", st)
	}
	st, _, wait := c.begin(k, d1, now)
	if st != beginWait || wait == nil {
		t.Fatalf("repeat in flight: %v", st)
	}
	if st, _, _ := c.begin(k, d2, now); st != beginConflict {
		t.Fatalf("other body in flight: %v", st)
	}
	c.finish(k, "s1", true, now)
	select {
	case <-wait:
	default:
		t.Fatal("waiter not woken by finish")
	}
	if st, sid, _ := c.begin(k, d1, now); st != beginReplay || sid != "s1" {
		t.Fatalf("repeat after finish: %v %q", st, sid)
	}
	if st, _, _ := c.begin(k, d2, now); st != beginConflict {
		t.Fatalf("other body after finish: %v", st)
	}
	k2 := reqKey{caller: "p", op: opCreate, id: "r2"}
	c.begin(k2, d1, now)
	c.finish(k2, "", false, now)
	if st, _, _ := c.begin(k2, d2, now); st != beginFirst {
		t.Fatalf("after a failed first: %v", st)
	}
	if len(c.inflight) != 1 {
		t.Fatalf("in flight: %d", len(c.inflight))
	}
}

// The remembered requests are bounded: the oldest go first, and expired ones are dropped.
func TestExpiringBounded(t *testing.T) {
	m := newExpiring[string, int](time.Minute, 100)
	now := time.Unix(1000, 0)
	for i := range 250 {
		m.put(fmt.Sprint(i), i, now)
	}
	if m.len() > 100 {
		t.Fatalf("holds %d, max 100", m.len())
	}
	if _, ok := m.get("0", now); ok {
		t.Fatal("oldest kept")
	}
	if v, ok := m.get("249", now); !ok || v != 249 {
		t.Fatal("newest lost")
	}
	// A key put again keeps its newer entry when the older one's turn to go comes.
	m.put("249", 1, now.Add(30*time.Second))
	m.put("x", 0, now.Add(61*time.Second))
	if v, ok := m.get("249", now.Add(61*time.Second)); !ok || v != 1 {
		t.Fatalf("re-put key lost: %v %v", v, ok)
	}
	if m.len() != 2 || len(m.order) != 2 {
		t.Fatalf("expired not dropped: %d items, %d order", m.len(), len(m.order))
	}
}

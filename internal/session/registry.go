package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Hooks observe the registry for metrics. Every field is optional.
type Hooks struct {
	Created func()
	// Restored: a session moved here from another node (Restore); it ends with Ended
	// like any other.
	Restored        func()
	Ended           func(EndReason)
	CreateFailed    func(reason string)
	RecordingFailed func()
	// RecordingLate: a recording that ended had audio packets per leg that reached its
	// writer after their place in the file was written (silence there instead).
	RecordingLate func(customer, agent uint64)
	// CaptureAbandoned: a secure capture stopped before it completed, with why (StopRequest,
	// StopInterDigitTimeout, StopSessionEnded, StopMoved).
	CaptureAbandoned func(reason string)
	// Suspected counts a suspicion by reason (one of SuspicionReasons), under a session's
	// lock: it must not block.
	Suspected func(reason string)
	// Suspicion receives each suspicion, in order, on a goroutine of the registry's own
	// (Run), off every lock: it may write to disk (the audit trail).
	Suspicion func(Suspicion)
	// Changed hears of every change to a session another node would need to carry it on:
	// creation, restoration, each event, the end. It runs with the session locked, on
	// control and packet goroutines alike, so it must only note the change and return.
	Changed func(Change)
}

// Change names a session that changed (Hooks.Changed).
type Change struct {
	ID     string
	Ended  bool
	Reason EndReason // when Ended
}

// Config sets up a Registry.
type Config struct {
	Media MediaFactory
	// Defaults is the effective policy for fields a request leaves unset; a zero
	// CustomerToAgent.Mode means tone (the agent's ear is masked by default).
	Defaults    Policy
	MaxSessions int
	Logger      *slog.Logger
	Hooks       Hooks
	// Now is the clock; time.Now when nil. Tests inject a fake.
	Now func() time.Time
	// SetupTimeout ends a session whose media never started this long after it was
	// created (a call that rang out, or a platform that never sent the hang-up). Media
	// proxies give setup its own, longer timer (rtpproxy -W): a call may ring for minutes
	// before anyone sends RTP, and the idle timeout is about media that stopped. Zero, or
	// less than the session's idle timeout, means the idle timeout.
	SetupTimeout time.Duration
	// ReapEvery is how often idle sessions and capture timeouts are looked for; default
	// 1 s, or a quarter of the default idle timeout when that is shorter.
	ReapEvery time.Duration
	// CaptureMask masks customer->agent during secure capture when the policy does not
	// mask that direction; default a tone.
	CaptureMask MaskPolicy
	// Recorder starts a session's recording; nil disables recording.
	Recorder RecorderFactory
	// CaptureTrigger is a key sequence (e.g. "*7") that, keyed on the agent's phone,
	// starts secure capture; empty disables it.
	CaptureTrigger string
	// Node names this node in a cluster (Info.Node, moves); empty when alone.
	Node string
	// Monitor is agent-activity monitoring (off when zero).
	Monitor MonitorConfig
}

// digit is one captured digit on its way from a packet goroutine to its session.
type digit struct {
	s *Session
	d Direction
	b byte
}

// Registry holds the active sessions.
type Registry struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	reqs *requestCache // has its own lock

	mu       sync.Mutex
	byID     map[string]*Session
	byCall   map[string]*Session
	gone     *expiring[string, Info] // final state of ended sessions, for repeated requests
	draining bool
	drainN   int           // sessions active when draining started
	changed  chan struct{} // closed and replaced whenever a session ends

	// digits carries captured digits off the packet goroutines (non-blocking send) to the
	// goroutine that runs sessions' capture logic; DigitsLost counts any that did not fit.
	digits     chan digit
	DigitsLost atomic.Uint64

	// suspicions carries flags to Hooks.Suspicion off the sessions' locks; SuspicionsLost
	// counts any that did not fit (each was still counted, logged and sent as an event).
	suspicions     chan Suspicion
	SuspicionsLost atomic.Uint64
	pauses         pauseRate
}

// NewRegistry creates an empty registry.
func NewRegistry(cfg Config) *Registry {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CaptureMask.Mode == 0 {
		cfg.CaptureMask = MaskPolicy{Mode: MaskTone}
	}
	// Safe when nobody configured it: what the agent hears is masked unless asked otherwise.
	if cfg.Defaults.CustomerToAgent.Mode == 0 {
		cfg.Defaults.CustomerToAgent.Mode = MaskTone
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	if cfg.ReapEvery <= 0 {
		cfg.ReapEvery = time.Second
		if q := cfg.Defaults.IdleTimeout / 4; q > 0 && q < cfg.ReapEvery {
			cfg.ReapEvery = q
		}
	}
	return &Registry{
		cfg: cfg, log: cfg.Logger, now: cfg.Now,
		byID:       make(map[string]*Session),
		byCall:     make(map[string]*Session),
		reqs:       newRequestCache(requestTTL, maxRequests),
		gone:       newExpiring[string, Info](requestTTL, maxRequests),
		changed:    make(chan struct{}),
		digits:     make(chan digit, 4096),
		suspicions: make(chan Suspicion, suspicionQueue),
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create starts a session. A repeated request returns the session the first one made; a
// different request under the same request id is refused (ErrRequestIDReused).
func (r *Registry) Create(spec Spec) (Info, error) {
	q := Request{ID: spec.RequestID, Caller: spec.Caller, Digest: spec.Digest}
	return r.idempotent(opCreate, "", q, func() (Info, error) { return r.create(spec) })
}

func (r *Registry) create(spec Spec) (Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.draining {
		r.failed("draining")
		return Info{}, ErrDraining
	}
	if _, taken := r.byCall[spec.CallID]; taken {
		r.failed("call_id_exists")
		return Info{}, ErrAlreadyExists
	}
	if len(r.byID) >= r.cfg.MaxSessions {
		r.failed("max_sessions")
		return Info{}, fmt.Errorf("%w (%d)", ErrTooManySessions, r.cfg.MaxSessions)
	}
	spec.Customer = spec.Customer.clone()
	spec.Agent = spec.Agent.clone()
	if spec.Policy.CustomerToAgent.Mode == 0 {
		spec.Policy.CustomerToAgent = r.cfg.Defaults.CustomerToAgent
	}
	s := &Session{
		id: newID(), callID: spec.CallID, agentID: spec.AgentID,
		labels: spec.Labels, created: now, since: now, reg: r,
		legs: [2]LegSpec{spec.Customer, spec.Agent}, policy: spec.Policy,
		subs: make(map[*subscriber]struct{}),
	}
	r.startRecording(s, spec)
	m, err := r.cfg.Media(r.mediaSpec(s, spec.Customer, spec.Agent, [2]uint16{},
		[2]MaskPolicy{CustomerToAgent: spec.Policy.CustomerToAgent, AgentToCustomer: spec.Policy.AgentToCustomer}))
	if err != nil {
		s.closeRecording()
		if errors.Is(err, ErrPortsExhausted) {
			r.failed("ports_exhausted")
		} else {
			r.failed("media_error")
		}
		return Info{}, err
	}
	s.media = m
	// Keys are watched for a keypad trigger (agent side) and for auto-pause (both sides;
	// only the fact of keying is used).
	if err := r.watchKeys(s, m); err != nil {
		_ = m.Close()
		s.closeRecording()
		r.failed("media_error")
		return Info{}, err
	}
	if err := s.applyMaskingLocked(spec.Policy); err != nil {
		_ = m.Close()
		s.closeRecording()
		r.failed("media_error")
		return Info{}, err
	}
	r.byID[s.id] = s
	r.byCall[s.callID] = s
	if s.rec.state == RecordingFailed {
		s.mu.Lock()
		s.flagLocked(SuspectRecordingFailed, spec.Actor, spec.RequestID, "the recording could not start; the call goes on unrecorded")
		s.mu.Unlock()
	}
	info := s.info()
	if h := r.cfg.Hooks.Created; h != nil {
		h()
	}
	s.mu.Lock()
	s.changedLocked(false, 0)
	s.mu.Unlock()
	r.log.Info("session created", "session_id", s.id, "call_id", s.callID, "agent_id", s.agentID,
		"request_id", spec.RequestID, "actor", spec.Actor,
		"customer_local", info.Customer.Local, "agent_local", info.Agent.Local)
	for _, w := range info.Warnings {
		r.log.Warn("session set up with a warning", "session_id", s.id, "request_id", spec.RequestID,
			"field", w.Field, "warning", w.Message)
	}
	return info, nil
}

// mediaSpec is what the media of session s needs: its legs, where to bind them (zero
// ports: anywhere free), the masking from the first packet, and the session's callbacks.
func (r *Registry) mediaSpec(s *Session, customer, agent LegSpec, ports [2]uint16, masking [2]MaskPolicy) MediaSpec {
	return MediaSpec{
		Record: s.recordTap(), RecordMasked: s.recordMaskTap(),
		SessionID: s.id, Customer: customer, Agent: agent, LocalPorts: ports, Masking: &masking,
		StrictSource: s.policy.StrictSource, OnLatch: s.onLatch, OnLatchReject: s.onLatchReject,
		OnDigit: func(d Direction, b byte) {
			select {
			case r.digits <- digit{s: s, d: d, b: b}:
			default:
				r.DigitsLost.Add(1)
			}
		},
	}
}

func (r *Registry) failed(reason string) {
	if h := r.cfg.Hooks.CreateFailed; h != nil {
		h(reason)
	}
}

func (r *Registry) lookup(id string) (*Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.byID[id]
	if s == nil {
		return nil, ErrNotFound
	}
	return s, nil
}

// Get returns a snapshot of an active session.
func (r *Registry) Get(id string) (Info, error) {
	s, err := r.lookup(id)
	if err != nil {
		return Info{}, err
	}
	return s.info(), nil
}

// ListFilter selects sessions for List.
type ListFilter struct {
	AgentID, CallID string
	PageSize        int
	After           Cursor // zero: from the start
}

// Cursor is a position in the list order (creation time, then id).
type Cursor struct {
	Created time.Time
	ID      string
}

func (c Cursor) before(s *Session) bool {
	if !c.Created.Equal(s.created) {
		return c.Created.Before(s.created)
	}
	return c.ID < s.id
}

// List returns matching sessions in creation order, a page at a time. next is zero when
// there are no more; total counts all matches.
func (r *Registry) List(f ListFilter) (page []Info, next Cursor, total int) {
	r.mu.Lock()
	all := make([]*Session, 0, len(r.byID))
	for _, s := range r.byID {
		if (f.AgentID == "" || s.agentID == f.AgentID) && (f.CallID == "" || s.callID == f.CallID) {
			all = append(all, s)
		}
	}
	r.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if !all[i].created.Equal(all[j].created) {
			return all[i].created.Before(all[j].created)
		}
		return all[i].id < all[j].id
	})
	total = len(all)
	start := 0
	if !f.After.Created.IsZero() || f.After.ID != "" {
		start = sort.Search(len(all), func(i int) bool { return f.After.before(all[i]) })
	}
	end := min(start+f.PageSize, len(all))
	for _, s := range all[start:end] {
		page = append(page, s.info())
	}
	if end < len(all) && end > start {
		last := all[end-1]
		next = Cursor{Created: last.created, ID: last.id}
	}
	return page, next, total
}

// Update applies a re-INVITE style change.
func (r *Registry) Update(id string, u Update) (Info, error) {
	q := Request{ID: u.RequestID, Caller: u.Caller, Digest: u.Digest}
	return r.idempotent(opUpdate, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		return s.update(u)
	})
}

// Delete ends a session. Repeating the request returns the final state again.
func (r *Registry) Delete(id string, q Request, actor string) (Info, error) {
	return r.idempotent(opDelete, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		info, ended := s.end(EndDeleted, actor, q.ID)
		if !ended {
			// Someone else ended it first; the final state is the same.
			info = s.info()
		}
		return info, nil
	})
}

// Watch subscribes to one session's events. The first event is a snapshot. The channel is
// closed after the ended event, when ctx ends, or when the watcher lags (then lagged()
// reports true).
func (r *Registry) Watch(ctx context.Context, id string) (events <-chan Event, lagged func() bool, err error) {
	s, err := r.lookup(id)
	if err != nil {
		return nil, nil, err
	}
	return s.watch(ctx)
}

// removed is called by a session once it has ended, with its final state.
func (r *Registry) removed(s *Session, reason EndReason, final Info) {
	r.mu.Lock()
	if r.byID[s.id] == s {
		delete(r.byID, s.id)
		delete(r.byCall, s.callID)
	}
	r.gone.put(s.id, final, r.now())
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	if h := r.cfg.Hooks.Ended; h != nil {
		h(reason)
	}
}

// Len is the number of active sessions.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// Draining reports whether Drain was called.
func (r *Registry) Draining() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.draining
}

// StartDrain stops taking new sessions and returns how many were active when draining
// first started.
func (r *Registry) StartDrain() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.draining {
		r.draining, r.drainN = true, len(r.byID)
	}
	return r.drainN
}

// Drain stops taking sessions, waits until every session has ended or ctx is done, then
// ends the rest with EndDrain. It returns how many sessions were active when it started.
func (r *Registry) Drain(ctx context.Context) int {
	n := r.StartDrain()
	for {
		r.mu.Lock()
		left, changed := len(r.byID), r.changed
		r.mu.Unlock()
		if left == 0 {
			return n
		}
		select {
		case <-changed:
		case <-ctx.Done():
			r.EndAll(EndDrain)
			return n
		}
	}
}

// EndAll ends every active session with reason.
func (r *Registry) EndAll(reason EndReason) {
	r.mu.Lock()
	all := make([]*Session, 0, len(r.byID))
	for _, s := range r.byID {
		all = append(all, s)
	}
	r.mu.Unlock()
	for _, s := range all {
		s.end(reason, "", "")
	}
}

// Run ends idle sessions, times out captures and hands captured digits to their sessions,
// until ctx is done.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.ReapEvery)
	defer t.Stop()
	delivered := make(chan struct{})
	go func() { defer close(delivered); r.deliverSuspicions(ctx) }()
	defer func() { <-delivered }()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-r.digits:
			d.s.onDigit(d.d, d.b)
		case <-t.C:
			r.ReapIdle()
			r.TimeoutCaptures()
			r.CheckMaxPauses()
		}
	}
}

// TimeoutCaptures stops captures whose inter-digit timeout has passed.
func (r *Registry) TimeoutCaptures() int {
	now := r.now()
	r.mu.Lock()
	all := make([]*Session, 0, len(r.byID))
	for _, s := range r.byID {
		all = append(all, s)
	}
	r.mu.Unlock()
	n := 0
	for _, s := range all {
		if s.captureTimedOut(now) {
			n++
		}
	}
	return n
}

// CheckMaxPauses raises max-pause events (and resumes where policy says).
func (r *Registry) CheckMaxPauses() int {
	now := r.now()
	n := 0
	for _, s := range r.all() {
		s.endAutoPause(now)
		s.checkActivity(now)
		if s.checkMaxPause(now) {
			n++
		}
	}
	return n
}

func (r *Registry) all() []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := make([]*Session, 0, len(r.byID))
	for _, s := range r.byID {
		all = append(all, s)
	}
	return all
}

// Pause pauses a session's recording.
func (r *Registry) Pause(id string, b PauseBehavior, actor string, q Request, reason string) (Info, error) {
	return r.idempotent(opPause, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		return s.pause(b, actor, q.ID, reason)
	})
}

// Resume resumes a session's recording.
func (r *Registry) Resume(id, actor string, q Request, reason string) (Info, error) {
	return r.idempotent(opResume, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		return s.resume(actor, q.ID, reason)
	})
}

// StartCapture starts secure capture on a session.
func (r *Registry) StartCapture(id string, o CaptureOptions) (Info, error) {
	q := Request{ID: o.RequestID, Caller: o.Caller, Digest: o.Digest}
	return r.idempotent(opCaptureStart, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		return s.startCapture(o)
	})
}

// StopCapture stops secure capture on a session.
func (r *Registry) StopCapture(id string, q Request, actor string) (Info, error) {
	return r.idempotent(opCaptureStop, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		return s.stopCapture(q.ID, actor, StopRequest)
	})
}

// Collect delivers a session's captured digits to one payment client, in batches on out,
// until the capture stops and all were delivered (the last batch has Complete set).
func (r *Registry) Collect(ctx context.Context, id string, out chan<- DigitBatch) error {
	s, err := r.lookup(id)
	if err != nil {
		return err
	}
	return s.collect(ctx, out)
}

// Names returns a session's call and agent ids, for a session active now or ended within
// the last minutes (its final state is kept that long), so the audit trail can name them.
func (r *Registry) Names(id string) (callID, agentID string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.byID[id]; s != nil {
		return s.callID, s.agentID, true
	}
	if f, ok := r.gone.get(id, r.now()); ok {
		return f.CallID, f.AgentID, true
	}
	return "", "", false
}

// AgentOf returns the agent a session is bound to, for authorization.
func (r *Registry) AgentOf(id string) (string, bool) {
	s, err := r.lookup(id)
	if err != nil {
		return "", false
	}
	return s.agentID, true
}

// ReapIdle ends the sessions that have had no media for their idle timeout, and those
// whose media never started within the setup timeout.
func (r *Registry) ReapIdle() int {
	now := r.now()
	r.mu.Lock()
	var idle []*Session
	var neverStarted []bool
	for _, s := range r.byID {
		if timedOut, started := s.idleSince(now); timedOut {
			idle = append(idle, s)
			neverStarted = append(neverStarted, !started)
		}
	}
	r.mu.Unlock()
	for i, s := range idle {
		if _, ended := s.end(EndIdle, "", ""); ended {
			if neverStarted[i] {
				r.log.Info("session ended: no media since it was created", "session_id", s.id,
					"setup_timeout", s.setupTimeout())
			} else {
				r.log.Info("session ended: media idle", "session_id", s.id)
			}
		}
	}
	return len(idle)
}

// Defaults is the policy sessions get for fields a request leaves unset.
func (r *Registry) Defaults() Policy { return r.cfg.Defaults }

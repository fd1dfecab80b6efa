package offeranswer

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
)

// maxIDLen bounds a Call-ID or tag (RFC 3261 sets no limit; real ones are well under 128).
const maxIDLen = 256

// Config sets up an Engine.
type Config struct {
	Registry *session.Registry
	// Plain starts a plain relay (no masking, no recording) for an extra m= line relayed on
	// request; nil refuses every extra m= line.
	Plain session.MediaFactory
	// Addr is hush's media address as written into SDP (media.advertise_address).
	Addr netip.Addr
	// CustomerAnswers makes the callee the customer by default; by default the caller is
	// (see Party).
	CustomerAnswers bool
	// OfferTimeout is the idle timeout of a session until its first answer, so a call
	// that rings longer than media.idle_timeout without early media is not ended; 0 keeps
	// the policy's.
	OfferTimeout time.Duration
	Logger       *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Engine holds the SIP view of hush's sessions: which call-id is which session, which
// tag is which party.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	calls map[string]*call

	offers, answers, deletes, failures atomic.Uint64
}

// New creates an Engine.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{cfg: cfg, log: cfg.Logger, calls: make(map[string]*call)}
}

// call is one SIP call: its session, its parties' tags and what it negotiated. Its fields
// are guarded by mu; the engine's table by Engine.mu, taken first and never held while
// waiting for a call's lock.
type call struct {
	mu        sync.Mutex
	id        string
	sessionID string
	gone      bool // removed from the table: whoever waited for mu must look again

	tags   map[string]session.Leg
	order  []string  // tags as they came, for query
	labels [2]string // each party's label (ng "label"), by leg

	main     int                 // index of the call's audio m= line
	codecs   [2]map[uint8]string // each party's own payload types, from its last SDP
	extras   map[int]*extra      // further m= lines relayed plain, by index
	offer    *offerState         // the last offer, for the answers to it
	answered bool                // an answer was seen
	idle     time.Duration       // the policy's idle timeout, restored at the first answer
	created  time.Time           // when the first offer came
	signal   time.Time           // when the last offer or answer came
	last     [2]netip.AddrPort   // each party's SDP address, for query's advertised endpoint
	kinds    map[int]string      // m= index -> media type, for query
	protos   map[int]string      // m= index -> protocol, for query
	// switches are rtpengine's block and silence media switches (flow.go).
	switches [numSwitches]mediaSwitches
	sdes     [2]sdesParty // each party's SDES keys and negotiation, by leg
}

type offerState struct {
	from      session.Leg
	desc      *sdp.Description
	mux       Mux
	senderMux bool // the sender offered rtcp-mux
	peerMux   bool // hush offered rtcp-mux to the recipient
}

// extra is an m= line beyond the call's audio, relayed plain.
type extra struct {
	media session.Media
	legs  [2]session.LegSpec
}

func other(l session.Leg) session.Leg { return 1 - l }

// label remembers the labels a request gave the party that sent it and the other one.
func (c *call) label(sender session.Leg, o *Options) {
	if o.Label != "" {
		c.labels[sender] = o.Label
	}
	if o.PeerLabel != "" {
		c.labels[other(sender)] = o.PeerLabel
	}
}

// Addr is hush's media address as the engine writes it into SDP.
func (e *Engine) Addr() netip.Addr { return e.cfg.Addr }

// Run ends the engine's view of sessions that ended elsewhere (idle timeout, drain, a
// gRPC DeleteSession) and closes their extra streams, every interval until ctx is done.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Sweep()
		}
	}
}

// Sweep forgets calls whose session has ended; it returns how many.
func (e *Engine) Sweep() int {
	e.mu.Lock()
	all := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		all = append(all, c)
	}
	e.mu.Unlock()
	n := 0
	for _, c := range all {
		c.mu.Lock()
		if !c.gone && !e.alive(c) {
			e.dropLocked(c)
			n++
		}
		c.mu.Unlock()
	}
	return n
}

func (e *Engine) alive(c *call) bool {
	_, ok := e.cfg.Registry.AgentOf(c.sessionID)
	return ok
}

// acquire returns call id's entry with its lock held, or nil. With create it makes a new
// locked entry when there is none (fresh is then true). An entry whose session ended
// elsewhere is dropped on the way.
func (e *Engine) acquire(id string, create bool) (c *call, fresh bool) {
	for range 8 { // bounded: each turn sees an entry that was dropped meanwhile
		e.mu.Lock()
		c = e.calls[id]
		if c == nil {
			if !create {
				e.mu.Unlock()
				return nil, false
			}
			now := e.cfg.Now()
			c = &call{id: id, tags: map[string]session.Leg{},
				extras: map[int]*extra{}, kinds: map[int]string{}, protos: map[int]string{}, created: now, signal: now}
			c.mu.Lock()
			e.calls[id] = c
			e.mu.Unlock()
			return c, true
		}
		e.mu.Unlock()
		c.mu.Lock()
		if c.gone {
			c.mu.Unlock()
			continue
		}
		if !e.alive(c) {
			e.dropLocked(c)
			c.mu.Unlock()
			continue
		}
		return c, false
	}
	return nil, false
}

// dropLocked removes c from the table and closes its extra streams; c.mu is held.
func (e *Engine) dropLocked(c *call) {
	if c.gone {
		return
	}
	c.gone = true
	for i, x := range c.extras {
		_ = x.media.Close()
		delete(c.extras, i)
	}
	e.mu.Lock()
	if e.calls[c.id] == c {
		delete(e.calls, c.id)
	}
	e.mu.Unlock()
}

// checkID validates a Call-ID or tag; the value is never echoed.
func checkID(field, v string, required bool) error {
	if v == "" {
		if required {
			return fmt.Errorf("%w: %s is required", ErrInvalid, field)
		}
		return nil
	}
	if len(v) > maxIDLen || !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s must be valid UTF-8 of at most %d bytes", ErrInvalid, field, maxIDLen)
	}
	for _, r := range v {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: %s contains a space or control character", ErrInvalid, field)
		}
	}
	return nil
}

// Delete ends a call's session. fromTag may be empty (ng "delete" needs only the
// call-id).
func (e *Engine) Delete(callID, actor string) (session.Info, error) {
	if err := checkID("call-id", callID, true); err != nil {
		return session.Info{}, err
	}
	c, _ := e.acquire(callID, false)
	if c == nil {
		return e.deleteMoved(callID, actor)
	}
	defer c.mu.Unlock()
	e.deletes.Add(1)
	info, err := e.cfg.Registry.Delete(c.sessionID, session.Request{}, actor)
	e.dropLocked(c)
	return info, err
}

// deleteMoved ends a call this engine has no state of but whose session runs here
// because it moved here from another node (a takeover or a handoff: the session directory
// carries the session, not the engine's SIP state). Only a session set up through offer
// and answer (its sip.from_tag label) is ended, so a delete never reaches a session a gRPC
// client created under the same call id.
func (e *Engine) deleteMoved(callID, actor string) (session.Info, error) {
	page, _, _ := e.cfg.Registry.List(session.ListFilter{CallID: callID, PageSize: 1})
	if len(page) == 0 || len(page[0].Moves) == 0 || page[0].Labels["sip.from_tag"] == "" {
		return session.Info{}, ErrUnknownCall
	}
	e.deletes.Add(1)
	return e.cfg.Registry.Delete(page[0].ID, session.Request{}, actor)
}

// TagInfo is one party's tag as the engine knows it.
type TagInfo struct {
	Tag, Label string
	Leg        session.Leg
}

// ExtraInfo is an m= line relayed plain.
type ExtraInfo struct {
	Index  int
	Type   string
	Local  [2]netip.AddrPort // hush's RTP address facing each party
	Remote [2]netip.AddrPort // where hush sends each party's media
	Stats  [2]session.LegStats
}

// CallInfo is a call's SIP view and its session.
type CallInfo struct {
	CallID          string
	Created, Signal time.Time
	Tags            []TagInfo
	Session         session.Info
	Advertised      [2]netip.AddrPort // each party's address as its SDP gave it
	AudioIndex      int               // 0-based m= index of the call's audio
	AudioProto      string
	Extras          []ExtraInfo
	Answered        bool
}

// Call returns a call's state.
func (e *Engine) Call(callID string) (CallInfo, error) {
	c, _ := e.acquire(callID, false)
	if c == nil {
		return CallInfo{}, ErrUnknownCall
	}
	defer c.mu.Unlock()
	info, err := e.cfg.Registry.Get(c.sessionID)
	if err != nil {
		return CallInfo{}, err
	}
	ci := CallInfo{CallID: c.id, Created: c.created, Signal: c.signal, Session: info,
		Advertised: c.last, AudioIndex: c.main, AudioProto: c.protos[c.main], Answered: c.answered}
	for _, t := range c.order {
		ci.Tags = append(ci.Tags, TagInfo{Tag: t, Label: c.labels[c.tags[t]], Leg: c.tags[t]})
	}
	idx := make([]int, 0, len(c.extras))
	for i := range c.extras {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		x := c.extras[i]
		xi := ExtraInfo{Index: i, Type: c.kinds[i]}
		for l := session.Customer; l <= session.Agent; l++ {
			xi.Local[l], _ = x.media.Local(l)
			xi.Remote[l], _ = x.media.Remote(l)
			xi.Stats[l] = x.media.Stats(l)
		}
		ci.Extras = append(ci.Extras, xi)
	}
	return ci, nil
}

// Party returns the session of a call and the leg of one of its tags or of a party's
// label (Options.Label); ok is false when neither names a party.
func (e *Engine) Party(callID, tag, label string) (sessionID string, leg session.Leg, ok bool, err error) {
	c, _ := e.acquire(callID, false)
	if c == nil {
		return "", 0, false, ErrUnknownCall
	}
	defer c.mu.Unlock()
	if l, found := c.tags[tag]; found && tag != "" {
		return c.sessionID, l, true, nil
	}
	if label != "" {
		for l, lb := range c.labels {
			if lb == label {
				return c.sessionID, session.Leg(l), true, nil
			}
		}
	}
	return c.sessionID, 0, false, nil
}

// CallIDs returns up to limit call-ids of active calls, oldest first.
func (e *Engine) CallIDs(limit int) []string {
	e.mu.Lock()
	all := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		all = append(all, c)
	}
	e.mu.Unlock()
	slices.SortFunc(all, func(a, b *call) int { return a.created.Compare(b.created) })
	var ids []string
	for _, c := range all {
		if len(ids) == limit {
			break
		}
		ids = append(ids, c.id)
	}
	return ids
}

// Stats are the engine's counters.
type Stats struct {
	Calls                              int
	Offers, Answers, Deletes, Failures uint64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	n := len(e.calls)
	e.mu.Unlock()
	return Stats{Calls: n, Offers: e.offers.Load(), Answers: e.answers.Load(), Deletes: e.deletes.Load(),
		Failures: e.failures.Load()}
}

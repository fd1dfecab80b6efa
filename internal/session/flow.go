package session

import (
	"fmt"
	"time"
)

// Media flow and played keys: what a direction's listener gets of the party at all
// (rtpengine's block media and silence media), and keys played toward a party
// (rtpengine's play DTMF). Both act where the media leaves hush, after the detector,
// secure capture and the recording tap have seen what the party sent.
//
// The recording holds what each party was heard to say: a blocked or silenced
// direction's channel is recorded as silence while it is (the timeline kept, like a
// pause of that channel alone), and the sidecar's actions say who blocked or silenced it
// and when. A played key is not in the recording (it joins the stream after the tap),
// and the detector never sees it, so it is never captured as the customer's: toward the
// agent a key is refused while the agent's ear is masked (it would be the very thing
// masking keeps from the agent), and toward the customer while secure capture is on (the
// customer's phone could echo it back, into the capture).

// MediaFlow is what a direction's listener gets of it.
type MediaFlow int

// Flows. The zero value forwards.
const (
	FlowForward MediaFlow = iota
	// FlowBlock: nothing of the direction's RTP reaches the listener; RTCP still does.
	FlowBlock
	// FlowSilence: G.711 silence in every packet, sequence numbers and timestamps kept;
	// RFC 4733 events are dropped.
	FlowSilence
)

var flowNames = [...]string{FlowForward: "forward", FlowBlock: "block", FlowSilence: "silence"}

func (f MediaFlow) String() string {
	if f.valid() {
		return flowNames[f]
	}
	return "unknown"
}

func (f MediaFlow) valid() bool { return f >= FlowForward && f <= FlowSilence }

// mask returns one direction's masking, to change it.
func (p *Policy) mask(d Direction) *MaskPolicy {
	if d == AgentToCustomer {
		return &p.AgentToCustomer
	}
	return &p.CustomerToAgent
}

// checkFlows refuses flows out of range before anything changes.
func checkFlows(u *Update) error {
	for d, f := range u.Flows {
		if f != nil && !f.valid() {
			return fmt.Errorf("%w: policy.%s.flow %d", ErrInvalid, Direction(d), *f)
		}
	}
	if u.Policy != nil {
		for _, d := range []Direction{CustomerToAgent, AgentToCustomer} {
			if !u.Policy.mask(d).Flow.valid() {
				return fmt.Errorf("%w: policy.%s.flow", ErrInvalid, d)
			}
		}
	}
	return nil
}

// updateFlowsLocked applies an update's single-direction flows and returns the paths
// that changed ("policy.customer_to_agent.flow").
func (s *Session) updateFlowsLocked(u *Update) ([]string, error) {
	next := s.policy
	var paths []string
	for d, f := range u.Flows {
		if m := next.mask(Direction(d)); f != nil && m.Flow != *f {
			m.Flow = *f
			paths = append(paths, "policy."+Direction(d).String()+".flow")
		}
	}
	if len(paths) == 0 {
		return nil, nil
	}
	if err := s.applyMaskingLocked(next); err != nil {
		return nil, fmt.Errorf("update flow: %w", err)
	}
	s.noteFlowsLocked(s.policy, next, u.Actor, u.RequestID)
	s.policy = next
	return paths, nil
}

// recordNoter is a Recorder that keeps actions in its sidecar (media/record's does).
type recordNoter interface {
	Note(action, actor, requestID, reason string) error
}

// noteFlowsLocked tells the log and the recording's sidecar of each direction whose flow
// changes from old to next.
func (s *Session) noteFlowsLocked(old, next Policy, actor, requestID string) {
	for _, d := range []Direction{CustomerToAgent, AgentToCustomer} {
		from, to := old.mask(d).Flow, next.mask(d).Flow
		if from == to {
			continue
		}
		s.reg.log.Info("media flow changed", "session_id", s.id, "direction", d.String(), "flow", to.String(), "actor", actor)
		if n, ok := s.rec.rec.(recordNoter); ok && s.rec.state != RecordingFailed {
			_ = n.Note("media_"+to.String()+" "+d.String(), actor, requestID, "")
		}
	}
}

// DTMFKey is a key to play toward a party (Registry.PlayDTMF).
type DTMFKey struct {
	// From is the party the key comes from (rtpengine's selected participant): it is
	// played toward the other party.
	From Leg
	// Key is '0'-'9', '*', '#' or 'A'-'D'. It is never logged, audited or shown.
	Key             byte
	Duration, Pause time.Duration
	// Volume is the level of each of the key's two tones in -dBm0 (0-63).
	Volume uint8
	// EventPT is set by the session: the telephone-event payload type of the party the
	// key goes to, from its own SDP (0: none; the key goes in band).
	EventPT          uint8
	Actor, RequestID string
	Caller           string // with RequestID and Digest: the request's idempotency key
	Digest           Digest
}

// PlayedInfo is what may be told of a key played: never which key.
type PlayedInfo struct {
	Duration time.Duration
}

// TonePlayer is a Media that plays keys toward a party (media/relay's does). Its errors
// wrap ErrUnsafe (a masked direction), ErrFailedPrecondition (blocked or silenced, no
// media yet, too many keys queued) or ErrInvalid.
type TonePlayer interface {
	PlayDTMF(d Direction, k DTMFKey) error
}

// PlayDTMF queues a key to be played toward the party opposite k.From, after any keys
// still queued. Repeating the request (request id) plays nothing more.
func (r *Registry) PlayDTMF(id string, k DTMFKey) (Info, error) {
	q := Request{ID: k.RequestID, Caller: k.Caller, Digest: k.Digest}
	return r.idempotent(opPlayDTMF, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		return s.playDTMF(k)
	})
}

func (s *Session) playDTMF(k DTMFKey) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return Info{}, ErrNotFound
	}
	if k.From != Customer && k.From != Agent {
		return Info{}, fmt.Errorf("%w: no such party", ErrInvalid)
	}
	d := Direction(k.From)
	toward := Leg(1 - k.From)
	m := s.policy.Mask(d)
	switch {
	case d == CustomerToAgent && (s.cap.begun || m.Mode > MaskOff):
		return Info{}, fmt.Errorf("%w: what the agent hears is masked; a key played toward the agent would reach the agent as a digit", ErrUnsafe)
	case d == AgentToCustomer && m.Mode > MaskOff:
		return Info{}, fmt.Errorf("%w: what the customer hears is masked; a key played toward the customer would reach the customer as a digit", ErrUnsafe)
	case d == AgentToCustomer && s.cap.on:
		return Info{}, fmt.Errorf("%w: secure capture is on; the customer's phone could echo a key played toward it into the capture", ErrUnsafe)
	case m.Flow == FlowBlock:
		return Info{}, fmt.Errorf("%w: the media toward the %s is blocked", ErrFailedPrecondition, toward)
	case m.Flow == FlowSilence:
		return Info{}, fmt.Errorf("%w: the media toward the %s is silenced", ErrFailedPrecondition, toward)
	}
	p, ok := s.media.(TonePlayer)
	if !ok {
		return Info{}, fmt.Errorf("%w: this session's media plays no keys", ErrUnsupported)
	}
	k.EventPT = s.legs[toward].TelephoneEventPT
	if err := p.PlayDTMF(d, k); err != nil {
		return Info{}, fmt.Errorf("play DTMF toward the %s: %w", toward, err)
	}
	played := PlayedInfo{Duration: k.Duration}
	s.publishLocked(Event{Kind: EventDTMFPlayed, Actor: k.Actor, RequestID: k.RequestID, Leg: toward, Played: played})
	s.reg.log.Info("DTMF key played", "session_id", s.id, "toward", toward.String(), "duration", k.Duration, "actor", k.Actor)
	if n, ok := s.rec.rec.(recordNoter); ok && s.rec.state != RecordingFailed {
		_ = n.Note("dtmf_played toward "+toward.String(), k.Actor, k.RequestID, "")
	}
	return s.infoLocked(), nil
}

package cluster

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/srtp"
)

// record is a session's snapshot as the directory stores it (the "data" field of its
// hash): a format of its own, with short stable names, so nodes of two versions read
// each other's sessions during a rolling upgrade. It never holds digits.
type record struct {
	V         int               `json:"v"`
	ID        string            `json:"id"`
	Call      string            `json:"call"`
	Agent     string            `json:"agent,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Created   time.Time         `json:"created"`
	Legs      [2]legRecord      `json:"legs"`
	Policy    policyRecord      `json:"policy"`
	CapBegun  bool              `json:"capture_begun,omitempty"`
	CapOn     bool              `json:"capture_on,omitempty"`
	Recording recRecord         `json:"recording"`
	Moves     []moveRecord      `json:"moves,omitempty"`
}

// Record versions. A record of a session with an SRTP leg or a direction blocked or
// silenced is version 2: a node that knows neither field must refuse it (and leave the
// call) rather than restore it forwarding plain RTP or a blocked party. Any other record
// stays version 1, which every node reads.
const (
	recordVersion1 = 1
	recordVersion  = 2
)

type legRecord struct {
	Remote      string            `json:"remote,omitempty"` // as the platform gave it
	ExpectedIP  string            `json:"expected_ip,omitempty"`
	RemoteRTCP  string            `json:"remote_rtcp,omitempty"`
	Codecs      map[string]string `json:"codecs,omitempty"` // payload type -> name
	TEPT        uint8             `json:"te_pt,omitempty"`
	Mux         bool              `json:"mux,omitempty"`
	Local       string            `json:"local"`                  // RTP address bound
	Now         string            `json:"now,omitempty"`          // where RTP goes now
	NowRTCP     string            `json:"now_rtcp,omitempty"`     // where RTCP goes now
	Latched     bool              `json:"latched,omitempty"`      // Now was learned
	RTCPLatched bool              `json:"rtcp_latched,omitempty"` // NowRTCP was learned
	// SRTP: the leg is SRTP. Its keys are never written (Redis is no store for key
	// material): a node taking the session over runs the leg with none, failing closed.
	SRTP bool `json:"srtp,omitempty"`
}

type maskRecord struct {
	Mode      int   `json:"mode"`
	LookAhead int64 `json:"look_ahead_ns,omitempty"`
	ToneHz    int   `json:"tone_hz,omitempty"`
	Flow      int   `json:"flow,omitempty"` // session.MediaFlow: forward, block, silence
}

type policyRecord struct {
	ToAgent      maskRecord `json:"to_agent"`
	ToCustomer   maskRecord `json:"to_customer"`
	RecordingOff bool       `json:"recording_off,omitempty"`
	MaxPause     int64      `json:"max_pause_ns,omitempty"`
	ResumeAfter  bool       `json:"resume_after_max_pause,omitempty"`
	AutoPause    bool       `json:"auto_pause_on_dtmf,omitempty"`
	Retention    int64      `json:"retention_ns,omitempty"`
	StrictSource bool       `json:"strict_source,omitempty"`
	IdleTimeout  int64      `json:"idle_timeout_ns,omitempty"`
}

// pauseBehaviors are a pause's behaviours as a record stores them: the index.
var pauseBehaviors = [...]session.PauseBehavior{"", session.PauseSilence, session.PauseSkip}

type recRecord struct {
	ID       string    `json:"id,omitempty"`
	Segment  int       `json:"segment,omitempty"`
	State    int       `json:"state,omitempty"`
	Behavior int       `json:"behavior,omitempty"`
	PausedAt time.Time `json:"paused_at,omitzero"`
	Auto     bool      `json:"auto,omitempty"`
}

type moveRecord struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	Rec      string    `json:"rec,omitempty"`
	PrevRec  string    `json:"prev_rec,omitempty"`
	Abandons bool      `json:"capture_abandoned,omitempty"`
	NoKeys   []int     `json:"srtp_without_keys,omitempty"` // session.Leg
}

func addrText(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func maskRec(p session.MaskPolicy) maskRecord {
	return maskRecord{Mode: int(p.Mode), LookAhead: int64(p.LookAhead), ToneHz: p.ToneHz, Flow: int(p.Flow)}
}

// encodeRecord turns a snapshot into the directory's JSON.
func encodeRecord(s *session.Snapshot) ([]byte, error) {
	r := record{V: recordVersion1, ID: s.ID, Call: s.CallID, Agent: s.AgentID, Labels: s.Labels, Created: s.Created,
		CapBegun: s.CaptureBegun, CapOn: s.CaptureOn,
		Policy: policyRecord{
			ToAgent: maskRec(s.Policy.CustomerToAgent), ToCustomer: maskRec(s.Policy.AgentToCustomer),
			RecordingOff: s.Policy.Recording.Off, MaxPause: int64(s.Policy.Recording.MaxPause),
			ResumeAfter: s.Policy.Recording.ResumeAfterMaxPause, AutoPause: s.Policy.Recording.AutoPauseOnDTMF,
			Retention:    int64(s.Policy.Recording.Retention),
			StrictSource: s.Policy.StrictSource, IdleTimeout: int64(s.Policy.IdleTimeout),
		},
		Recording: recRecord{ID: s.Recording.ID, Segment: s.Recording.Segment, State: int(s.Recording.State),
			Behavior: slices.Index(pauseBehaviors[:], s.Recording.Behavior), PausedAt: s.Recording.PausedAt, Auto: s.Recording.Auto},
	}
	for l, sl := range s.Legs {
		lr := legRecord{Remote: addrText(sl.Spec.Remote), RemoteRTCP: addrText(sl.Spec.RemoteRTCP),
			TEPT: sl.Spec.TelephoneEventPT, Mux: sl.Spec.RTCPMux, Local: addrText(sl.Local),
			Now: addrText(sl.Remote), NowRTCP: addrText(sl.RemoteRTCP), Latched: sl.Latched, RTCPLatched: sl.RTCPLatched}
		if sl.Spec.ExpectedIP.IsValid() {
			lr.ExpectedIP = sl.Spec.ExpectedIP.String()
		}
		if len(sl.Spec.Codecs) > 0 {
			lr.Codecs = make(map[string]string, len(sl.Spec.Codecs))
			for pt, name := range sl.Spec.Codecs {
				lr.Codecs[strconv.Itoa(int(pt))] = name
			}
		}
		if sl.Spec.SRTP != nil || sl.SRTPKeysDropped {
			lr.SRTP = true
		}
		r.Legs[l] = lr
	}
	if r.Legs[0].SRTP || r.Legs[1].SRTP || r.Policy.ToAgent.Flow != 0 || r.Policy.ToCustomer.Flow != 0 {
		r.V = recordVersion
	}
	for _, m := range s.Moves {
		mr := moveRecord{From: m.From, To: m.To, Reason: m.Reason, At: m.At,
			Rec: m.RecordingID, PrevRec: m.PreviousRecordingID, Abandons: m.CaptureAbandoned}
		for _, l := range m.SRTPWithoutKeys {
			mr.NoKeys = append(mr.NoKeys, int(l))
		}
		r.Moves = append(r.Moves, mr)
	}
	return json.Marshal(r)
}

// Bounds on what a record may hold: the API allows far less; these keep a damaged or
// hostile directory entry from costing much.
const (
	maxRecordBytes = 64 << 10
	maxMoves       = 1000
	maxCodecs      = 128
)

// decodeRecord parses and checks a directory entry. Whatever is in Redis is checked as
// input: a bad entry is an error (ErrBadRecord), never a panic or a half-restored call.
func decodeRecord(b []byte) (session.Snapshot, error) {
	var s session.Snapshot
	if len(b) > maxRecordBytes {
		return s, fmt.Errorf("%w: %d bytes", ErrBadRecord, len(b))
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return s, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if r.V != recordVersion1 && r.V != recordVersion {
		return s, fmt.Errorf("%w: version %d", ErrBadRecord, r.V)
	}
	if r.ID == "" || r.Call == "" || r.Created.IsZero() {
		return s, fmt.Errorf("%w: no id, call or creation time", ErrBadRecord)
	}
	if len(r.Moves) > maxMoves {
		return s, fmt.Errorf("%w: %d moves", ErrBadRecord, len(r.Moves))
	}
	s = session.Snapshot{ID: r.ID, CallID: r.Call, AgentID: r.Agent, Labels: r.Labels, Created: r.Created,
		CaptureBegun: r.CapBegun, CaptureOn: r.CapOn}
	var err error
	if s.Policy, err = r.Policy.policy(); err != nil {
		return session.Snapshot{}, err
	}
	rec := r.Recording
	if rec.State < 0 || rec.State > int(session.RecordingFailed) || rec.Behavior < 0 || rec.Behavior >= len(pauseBehaviors) || rec.Segment < 0 {
		return session.Snapshot{}, fmt.Errorf("%w: recording state", ErrBadRecord)
	}
	s.Recording = session.SnapshotRecording{ID: rec.ID, Segment: rec.Segment, State: session.RecordingState(rec.State),
		Behavior: pauseBehaviors[rec.Behavior], PausedAt: rec.PausedAt, Auto: rec.Auto}
	for l := range r.Legs {
		if s.Legs[l], err = r.Legs[l].leg(); err != nil {
			return session.Snapshot{}, fmt.Errorf("%s leg: %w", session.Leg(l), err)
		}
	}
	for _, m := range r.Moves {
		mv := session.Move{From: m.From, To: m.To, Reason: m.Reason, At: m.At,
			RecordingID: m.Rec, PreviousRecordingID: m.PrevRec, CaptureAbandoned: m.Abandons}
		if len(m.NoKeys) > 2 {
			return session.Snapshot{}, fmt.Errorf("%w: move's legs", ErrBadRecord)
		}
		for _, l := range m.NoKeys {
			if l != int(session.Customer) && l != int(session.Agent) {
				return session.Snapshot{}, fmt.Errorf("%w: move's leg %d", ErrBadRecord, l)
			}
			mv.SRTPWithoutKeys = append(mv.SRTPWithoutKeys, session.Leg(l))
		}
		s.Moves = append(s.Moves, mv)
	}
	return s, nil
}

func (m maskRecord) mask() (session.MaskPolicy, error) {
	if m.Flow < int(session.FlowForward) || m.Flow > int(session.FlowSilence) ||
		m.Mode < 0 || m.Mode > int(session.MaskTone) || m.LookAhead < 0 || m.LookAhead > int64(time.Second) || m.ToneHz < 0 || m.ToneHz > 4000 {
		return session.MaskPolicy{}, fmt.Errorf("%w: masking %+v", ErrBadRecord, m)
	}
	return session.MaskPolicy{Mode: session.MaskMode(m.Mode), LookAhead: time.Duration(m.LookAhead), ToneHz: m.ToneHz,
		Flow: session.MediaFlow(m.Flow)}, nil
}

func (p policyRecord) policy() (session.Policy, error) {
	var out session.Policy
	var err error
	if out.CustomerToAgent, err = p.ToAgent.mask(); err != nil {
		return out, err
	}
	if out.AgentToCustomer, err = p.ToCustomer.mask(); err != nil {
		return out, err
	}
	if p.MaxPause < 0 || p.IdleTimeout < 0 || p.Retention < 0 {
		return out, fmt.Errorf("%w: negative duration", ErrBadRecord)
	}
	out.Recording = session.RecordingPolicy{Off: p.RecordingOff, MaxPause: time.Duration(p.MaxPause),
		ResumeAfterMaxPause: p.ResumeAfter, AutoPauseOnDTMF: p.AutoPause, Retention: time.Duration(p.Retention)}
	out.StrictSource, out.IdleTimeout = p.StrictSource, time.Duration(p.IdleTimeout)
	return out, nil
}

func parseAddrPort(field, v string) (netip.AddrPort, error) {
	if v == "" {
		return netip.AddrPort{}, nil
	}
	a, err := netip.ParseAddrPort(v)
	if err != nil {
		return a, fmt.Errorf("%w: %s: %v", ErrBadRecord, field, err)
	}
	return a, nil
}

func (lr legRecord) leg() (session.SnapshotLeg, error) {
	var sl session.SnapshotLeg
	var err error
	for _, f := range []struct {
		name string
		v    string
		dst  *netip.AddrPort
	}{{"remote", lr.Remote, &sl.Spec.Remote}, {"remote_rtcp", lr.RemoteRTCP, &sl.Spec.RemoteRTCP},
		{"local", lr.Local, &sl.Local}, {"now", lr.Now, &sl.Remote}, {"now_rtcp", lr.NowRTCP, &sl.RemoteRTCP}} {
		if *f.dst, err = parseAddrPort(f.name, f.v); err != nil {
			return sl, err
		}
	}
	if !sl.Local.IsValid() || sl.Local.Port() == 0 {
		return sl, fmt.Errorf("%w: no local port", ErrBadRecord)
	}
	if lr.ExpectedIP != "" {
		if sl.Spec.ExpectedIP, err = netip.ParseAddr(lr.ExpectedIP); err != nil {
			return sl, fmt.Errorf("%w: expected_ip: %v", ErrBadRecord, err)
		}
	}
	if len(lr.Codecs) > maxCodecs {
		return sl, fmt.Errorf("%w: %d codecs", ErrBadRecord, len(lr.Codecs))
	}
	if len(lr.Codecs) > 0 {
		sl.Spec.Codecs = make(map[uint8]string, len(lr.Codecs))
		for k, name := range lr.Codecs {
			pt, err := strconv.ParseUint(k, 10, 7)
			if err != nil {
				return sl, fmt.Errorf("%w: codec payload type %q", ErrBadRecord, k)
			}
			sl.Spec.Codecs[uint8(pt)] = name
		}
	}
	if lr.TEPT > 127 {
		return sl, fmt.Errorf("%w: telephone-event payload type %d", ErrBadRecord, lr.TEPT)
	}
	sl.Spec.TelephoneEventPT, sl.Spec.RTCPMux = lr.TEPT, lr.Mux
	sl.Latched, sl.RTCPLatched = lr.Latched, lr.RTCPLatched
	if lr.SRTP {
		sl.Spec.SRTP, sl.SRTPKeysDropped = &srtp.Keys{}, true
	}
	return sl, nil
}

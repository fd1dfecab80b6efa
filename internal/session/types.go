package session

import (
	"net/netip"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/relay"
	"github.com/hushmedia/hush/media/srtp"
)

// Leg names one party of a call: the media's own (relay.Leg, which is the
// recording's record.Leg), so it reaches the packet path and the recorder as it is.
type Leg = relay.Leg

// The two legs of a session.
const (
	Customer = relay.Customer
	Agent    = relay.Agent
)

// LegSpec is what the platform says about one party's media.
type LegSpec struct {
	Remote           netip.AddrPort // zero: latch (from ExpectedIP, or after a probation)
	ExpectedIP       netip.Addr     // where the party's media will come from, any port; zero: unknown
	RemoteRTCP       netip.AddrPort // zero: Remote's port+1, or Remote with RTCPMux
	Codecs           map[uint8]string
	TelephoneEventPT uint8 // 0: none
	RTCPMux          bool
	// SRTP makes the leg SRTP with these keys; nil: plain RTP. The keys never leave
	// hush: answers carry their fingerprints (srtp.Key prints only that).
	SRTP *srtp.Keys
	// Latched, for the media only: Remote (and RemoteRTCP when set) were learned from
	// the party's packets before the session moved to this node; they are kept as they
	// were and reported as latched.
	Latched bool
}

func (s LegSpec) clone() LegSpec {
	if s.Codecs != nil {
		c := make(map[uint8]string, len(s.Codecs))
		for k, v := range s.Codecs {
			c[k] = v
		}
		s.Codecs = c
	}
	return s
}

// LegStats counts one party's media.
type LegStats struct {
	RTPPacketsReceived, RTPBytesReceived uint64
	RTPPacketsSent, RTPBytesSent         uint64
	RTCPPacketsReceived, RTCPPacketsSent uint64
	PacketsDropped                       uint64
	LatchRejected                        uint64      // valid packets refused as the leg's remote
	SRTPUnauthenticated, SRTPReplayed    uint64      // SRTP packets dropped: not authentic, replayed
	Drops                                []DropCount // PacketsDropped by reason, the non-zero ones
	MaskedSamples                        uint64      // 8 kHz samples of the leg's audio masked toward the other party
}

// DropCount is how many of a leg's packets were dropped for one reason (the media's
// stable reason names, as hush_packets_dropped_total labels them).
type DropCount struct {
	Reason string
	N      uint64
}

// LegInfo is a leg's spec plus what hush allocated and learned.
type LegInfo struct {
	LegSpec
	Local, LocalRTCP netip.AddrPort
	Latched          bool
	Stats            LegStats
}

// Direction names which way audio flows.
type Direction int

// The two directions. CustomerToAgent is what the agent hears.
const (
	CustomerToAgent Direction = iota
	AgentToCustomer
)

func (d Direction) String() string {
	if d == AgentToCustomer {
		return "agent_to_customer"
	}
	return "customer_to_agent"
}

// MaskMode is what replaces DTMF toward a listener: the masker's own mode, whose zero
// value (none chosen) takes the registry's default toward the agent.
type MaskMode = mask.Mode

// Mask modes. MaskOff passes audio untouched with no added delay.
const (
	MaskOff          = mask.ModeOff
	MaskSilence      = mask.ModeSilence
	MaskComfortNoise = mask.ModeComfortNoise
	MaskTone         = mask.ModeTone
)

// MaskPolicy is one direction's masking. Mode 0 toward the agent (Spec.Policy) means the
// registry's default, which is MaskTone unless configured otherwise.
type MaskPolicy struct {
	Mode      MaskMode
	LookAhead time.Duration
	ToneHz    int
	// Flow is what the listener gets of the direction at all: forwarded (the zero
	// value), blocked or silenced (flow.go).
	Flow MediaFlow
}

// Policy is how a session treats audio.
type Policy struct {
	CustomerToAgent, AgentToCustomer MaskPolicy
	Recording                        RecordingPolicy
	StrictSource                     bool
	IdleTimeout                      time.Duration
}

// Mask returns one direction's masking.
func (p *Policy) Mask(d Direction) MaskPolicy {
	if d == AgentToCustomer {
		return p.AgentToCustomer
	}
	return p.CustomerToAgent
}

// Spec is a create request.
type Spec struct {
	CallID, RequestID, AgentID string
	Customer, Agent            LegSpec
	Policy                     Policy
	Labels                     map[string]string
	Actor                      string
	Caller                     string // with RequestID and Digest: the request's idempotency key
	Digest                     Digest
}

// State is a session's lifecycle state.
type State int

// Session states.
const (
	Active State = iota + 1
	Ended
)

// EndReason says why a session ended.
type EndReason int

// End reasons.
const (
	EndDeleted EndReason = iota + 1
	EndIdle
	EndDrain
	EndError
	// EndMoved: the session goes on on another node (handed over in a drain, or taken
	// over by a node that holds a newer claim); it ended here only.
	EndMoved
)

func (r EndReason) String() string {
	switch r {
	case EndDeleted:
		return "deleted"
	case EndIdle:
		return "idle_timeout"
	case EndDrain:
		return "drain"
	case EndError:
		return "error"
	case EndMoved:
		return "moved"
	}
	return "unknown"
}

// Info is a snapshot of a session.
type Info struct {
	ID, CallID, AgentID string
	Customer, Agent     LegInfo
	Policy              Policy
	Labels              map[string]string
	State               State
	Created, EndedAt    time.Time
	EndReason           EndReason
	Capture             CaptureInfo
	Recording           RecordingInfo
	Warnings            []Warning
	// Node is the node that runs the session (Config.Node; empty on a node alone).
	Node string
	// Moves are the session's moves from node to node, oldest first.
	Moves []Move
}

// Leg returns the info of one leg.
func (i *Info) Leg(l Leg) *LegInfo {
	if l == Agent {
		return &i.Agent
	}
	return &i.Customer
}

// EventKind says what a SessionEvent carries.
type EventKind int

// Event kinds.
const (
	EventSnapshot EventKind = iota + 1
	EventUpdated
	EventLatched
	EventEnded
	EventCapture // secure capture started or stopped
	EventDigits  // masked digit progress
	EventRecording
	EventMaxPause
	EventRecordingFailed
	EventUndecodableAudio // a leg sent audio in a codec hush cannot decode
	EventCaptureAbandoned // secure capture stopped before it completed (CaptureWhy)
	EventLatchRejected    // packets refused as a leg's remote (Leg, Addr, LatchReason, LatchRejects)
	EventDTMFPlayed       // a key was queued to be played toward a party (Leg, Played); never which key
	EventMoved            // the session moved to this node (Move)
	EventSuspicious       // agent-activity monitoring flagged something (Suspicion)
)

// Event is one change to a session. Events of one session have increasing Seq.
type Event struct {
	SessionID        string
	Seq              uint64
	Time             time.Time
	Actor            string
	RequestID        string
	Kind             EventKind
	Session          *Info // snapshot, updated, ended
	Paths            []string
	Leg              Leg            // latched, latch rejected
	Addr             netip.AddrPort // latched; latch rejected: the source refused
	LatchReason      string         // latch rejected: other_source, unexpected_ip, competing_source
	LatchRejects     uint64         // latch rejected: the leg's refusals so far
	Media            string         // latched: "rtp" or "rtcp"
	Reason           EndReason      // ended
	Capture          CaptureInfo    // capture, digits
	CaptureWhy       string         // capture, capture abandoned: why it stopped
	Recording        RecordingInfo  // recording
	RecordingReason  string         // recording: the caller's reason
	PausedFor        time.Duration  // max pause
	Resumed          bool           // max pause: resumed automatically
	RecordingFailure string         // recording failed
	PayloadType      uint8          // undecodable audio
	Played           PlayedInfo     // DTMF played: toward Leg
	Move             *Move          // moved
	Suspicion        Suspicion      // suspicious
}

// Update changes a session as after a re-INVITE. Nil fields are left alone.
type Update struct {
	RequestID string
	Actor     string
	Caller    string // with RequestID and Digest: the request's idempotency key
	Digest    Digest
	Customer  *LegUpdate
	Agent     *LegUpdate
	Policy    *Policy
	// Flows, by Direction, set one direction's flow and leave the rest of the policy as
	// it is (applied after Policy).
	Flows [2]*MediaFlow
}

// LegUpdate changes the named fields of a leg.
type LegUpdate struct {
	Remote           *netip.AddrPort
	ExpectedIP       *netip.Addr
	RemoteRTCP       *netip.AddrPort
	Codecs           map[uint8]string // non-nil: replace
	TelephoneEventPT *uint8
	RTCPMux          *bool
	// SetSRTP replaces the leg's SRTP keys with SRTP (nil: plain RTP).
	SetSRTP bool
	SRTP    *srtp.Keys
}

// Media is one session's data plane. media/relay provides it in production.
type Media interface {
	// Local returns where the leg's party must send RTP and RTCP.
	Local(l Leg) (rtp, rtcp netip.AddrPort)
	// Remote returns where hush sends the leg's media and whether it was latched.
	Remote(l Leg) (addr netip.AddrPort, latched bool)
	// SetLeg applies a changed leg (new remote, mux) without interrupting the other leg.
	SetLeg(l Leg, spec LegSpec) error
	// LastActivity is when a packet was last received on any of the session's sockets;
	// the zero time before the first.
	LastActivity() time.Time
	Stats(l Leg) LegStats
	// SetMasking sets one direction's masking; capture additionally masks and delivers the
	// direction's digits to MediaSpec.OnDigit.
	SetMasking(d Direction, p MaskPolicy, capture bool) error
	// WatchKeys delivers a direction's keys (DTMF and RFC 4733) to MediaSpec.OnDigit
	// whatever its masking, for keypad triggers on the agent's side.
	WatchKeys(d Direction) error
	// Close stops the media and releases its ports. It is safe to call more than once.
	Close() error
}

// MediaSpec is what a MediaFactory needs to set up a session's data plane.
type MediaSpec struct {
	SessionID       string
	Customer, Agent LegSpec
	StrictSource    bool
	OnLatch         func(l Leg, media string, addr netip.AddrPort)
	// OnLatchReject is told of packets refused as a leg's remote (at the leg's 1st, 2nd,
	// 4th... refusal), on a packet goroutine.
	OnLatchReject func(l Leg, reason string, addr netip.AddrPort, count uint64)
	// OnDigit receives captured digits on a packet goroutine; it must not block.
	OnDigit func(d Direction, digit byte)
	// Record receives one leg's audio, DTMF marked for silence, on a packet goroutine
	// (nil: not recording).
	Record RecordWriter
	// RecordMasked receives the RTP timestamp spans the recording tap masked, for the sidecar.
	RecordMasked func(l Leg, startTS, endTS uint32)
	// LocalPorts are the RTP ports to bind per leg (0: any free pair): a session taken over
	// from another node rebinds the ports its parties send to.
	LocalPorts [2]uint16
	// Masking, when set, is each direction's masking (by Direction) from the first packet
	// on, before the media reads any: a session taken over mid-call must not forward one
	// packet unmasked in a direction that was masked.
	Masking *[2]MaskPolicy
}

// MediaFactory allocates ports and starts a session's data plane. It returns an error
// wrapping ErrPortsExhausted when the port range is full.
type MediaFactory func(spec MediaSpec) (Media, error)

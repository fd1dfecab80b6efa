package offeranswer

import (
	"net/netip"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
)

// Party names the party of a call that is the customer.
type Party int

// Parties. PartyDefault leaves the choice to the engine's configuration. The caller is
// the party that sent the INVITE (the dialog's From tag), whether or not the INVITE
// carried the offer: in a late-offer call the first offer comes from the callee, in the
// 200, with the caller's tag as its to-tag. PartySender and PartyRecipient name the
// parties of the request itself: the one whose SDP it carries, and the other.
const (
	PartyDefault Party = iota
	PartyCaller
	PartyCallee
	PartySender
	PartyRecipient
)

// ExtraMedia is what happens to m= lines beyond the call's audio.
type ExtraMedia int

// Extra media handling; the default refuses them (port 0).
const (
	ExtraRefuse ExtraMedia = iota
	ExtraRelay
)

// Mux is the rtcp-mux (RFC 5761) negotiation policy; the names are rtpengine's.
type Mux int

// rtcp-mux policies. MuxDefault goes along with the parties: the offerer multiplexes when
// both offered and answered it.
const (
	MuxDefault Mux = iota
	MuxOffer       // offer it to the recipient even when the sender did not
	MuxAccept      // accept it from the sender whatever the recipient answers
	MuxDemux       // accept it from the sender, do not offer it to the recipient
	MuxReject      // neither accept nor offer it
)

// Learning is where hush sends a party's media.
type Learning int

// Learning modes. LearnSDP (the default, rtpengine's "trust address") sends to the SDP's
// address and drops packets from elsewhere when media.strict_source is on; LearnLatch
// learns the address from the party's first packet (for parties behind NAT); LearnSource
// uses the SIP message's source address with the SDP's port (rtpengine's "SIP source
// address").
const (
	LearnSDP Learning = iota
	LearnLatch
	LearnSource
)

// Options are what a request asks for beyond its SDP. The zero value is the defaults.
type Options struct {
	// RequestID and Actor go to the session's events and audit trail. With a RequestID,
	// Caller and Digest scope it (session.Request): a gRPC caller's retry is answered once.
	RequestID, Actor string
	Caller           string
	Digest           session.Digest

	// First offer only: which party is the customer, the agent the session is bound to,
	// labels, recording on or off (nil: the server's default) and the whole policy
	// (gRPC; nil: the server's defaults with the fields below).
	Customer Party
	AgentID  string
	Labels   map[string]string
	Record   *bool
	Policy   *session.Policy

	// Masking of what the agent hears (customer to agent) and of what the customer hears
	// (agent to customer); nil leaves it as it is.
	MaskToAgent, MaskToCustomer *session.MaskMode
	// MaskSender masks the keys of the party that sent this SDP (the offerer in an offer,
	// the answerer in an answer) toward the other: ng's "block DTMF" flag.
	MaskSender *session.MaskMode
	// Capture starts (true) or stops (false) secure capture; nil leaves it.
	Capture *bool
	// Label and PeerLabel name the party that sent the SDP and the other one (ng
	// "label" and "to-label"), for query and for selecting a party later.
	Label, PeerLabel string

	Extra    ExtraMedia
	Mux      Mux
	Learning Learning
	// Source is the SIP message's source address (ng "received from"), for LearnSource.
	Source netip.Addr
	// MediaAddr overrides the SDP's connection address of the sender (ng "media address").
	MediaAddr netip.Addr
	// RemoveICE says the caller asked for ICE to be removed; without it, removing ICE
	// (which hush always does) is reported as a warning.
	RemoveICE bool

	// SDP rewriting: replace the o= address, replace 0.0.0.0, a=rtcp handling.
	Origin, ZeroAddress bool
	RTCP                sdp.RTCPAttribute
}

// Request is an offer or an answer.
type Request struct {
	CallID, FromTag, ToTag string
	SDP                    []byte
	Options
}

// Result is what an offer or answer produced.
type Result struct {
	// SDP is the rewritten body for the recipient.
	SDP []byte
	// Session is the call's session after the request.
	Session session.Info
	// Warnings say what was asked for and not done, or done differently (ng "warning").
	Warnings []string
	// Created is true when the request created the session.
	Created bool
}

// request is the session layer's idempotency key of the request these options belong to.
func (o *Options) request() session.Request {
	return session.Request{ID: o.RequestID, Caller: o.Caller, Digest: o.Digest}
}

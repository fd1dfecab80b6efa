package relay

import (
	"fmt"
	"net/netip"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/srtp"
)

// Leg names one side of a call. It is the recording's leg (and WAV
// channel), so a packet's leg reaches the recorder as it is.
type Leg = record.Leg

// The legs.
const (
	Customer = record.LegCustomer
	Agent    = record.LegAgent
	numLegs  = Leg(record.NumChannels)
)

func validLeg(l Leg) bool { return l < numLegs }

// Direction names a forwarding direction. A direction is identified with the
// leg it receives on: Direction(Customer) == CustomerToAgent.
type Direction uint8

const (
	CustomerToAgent Direction = Direction(Customer)
	AgentToCustomer Direction = Direction(Agent)
	// NumDirections sizes arrays indexed by Direction.
	NumDirections = 2
)

func (d Direction) String() string {
	switch d {
	case CustomerToAgent:
		return "customer_to_agent"
	case AgentToCustomer:
		return "agent_to_customer"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// From is the leg the direction receives on; To the leg it sends from.
func (d Direction) From() Leg { return Leg(d) }
func (d Direction) To() Leg   { return Leg(d) ^ 1 }

// DropReason says why a packet was not forwarded. DropNone (0) means it was;
// the real reasons are DropNone+1 .. NumDropReasons-1, and their String
// values are stable metric label values.
type DropReason uint8

const (
	DropNone DropReason = iota
	// DropMalformed: not valid RTP (RFC 3550 5.1) or RTCP (6.4.1, A.2).
	DropMalformed
	// DropOversize: larger than MaxPacketSize, so possibly truncated.
	DropOversize
	// DropSourceMismatch: strict source, and not from the leg's remote.
	DropSourceMismatch
	// DropNoRemote: the destination leg's remote is not known yet.
	DropNoRemote
	// DropSendError: the send system call failed.
	DropSendError
	// DropStage: a step after admission could not make the packet it was to
	// send (a played key that does not fit the party's packet or codec).
	DropStage
	// DropUndecodable: a masked direction received a payload type hush
	// cannot decode, so it cannot be masked: fail closed.
	DropUndecodable
	// DropMaskOverflow: a masked direction's delay line was full, or the
	// packet larger than a slot; it was not analysed, so it is not sent.
	DropMaskOverflow
	// DropMaskedEvent: an RFC 4733 telephone-event in a masked direction,
	// consumed (tracked, captured) and never forwarded as a digit; also a
	// malformed one.
	DropMaskedEvent
	// DropSSRCMismatch: the leg locks its SSRC (CallConfig.LockSSRC) and
	// the packet carries another one.
	DropSSRCMismatch
	// DropRateLimit: the socket received more packets per second than its
	// cap (WithRateLimit).
	DropRateLimit
	// DropLatching: strict source, the leg's remote is not known yet and
	// the packet did not latch it (yet): a source in probation, or RTCP
	// before the RTP remote is known.
	DropLatching
	// DropBlocked: the direction is blocked (Call.SetFlow), or silenced and the
	// packet an RFC 4733 event.
	DropBlocked
	// DropSRTPAuth: an SRTP leg's packet did not authenticate (a wrong key, a forged or
	// altered packet, a truncated tag).
	DropSRTPAuth
	// DropSRTPReplay: an SRTP leg's packet was received before, or is older than the
	// replay window; or, toward an SRTP leg, its index was already sent once.
	DropSRTPReplay
	// DropSRTPNoKey: the packet needs an SRTP key that signalling has not given yet (an
	// SDES offer not answered): never passed on plain.
	DropSRTPNoKey
	// DropSRTPProtect: hush could not protect the packet for an SRTP leg (more SSRCs
	// than it tracks, or the key's packet limit reached).
	DropSRTPProtect
	// DropStale: the packet waited in hush longer than the call's queueing
	// bound (WithMaxQueueDelay) because the host fell behind: late audio is
	// worse than lost audio to a listener, and the backlog would otherwise
	// delay every packet after it. A masked packet was still analysed and
	// recorded.
	DropStale
	// NumDropReasons sizes arrays indexed by DropReason.
	NumDropReasons
)

var dropNames = [NumDropReasons]string{
	DropNone:           "none",
	DropMalformed:      "malformed",
	DropOversize:       "oversize",
	DropSourceMismatch: "source_mismatch",
	DropNoRemote:       "no_remote",
	DropSendError:      "send_error",
	DropStage:          "stage",
	DropUndecodable:    "undecodable",
	DropMaskOverflow:   "mask_overflow",
	DropMaskedEvent:    "masked_event",
	DropSSRCMismatch:   "ssrc_mismatch",
	DropRateLimit:      "rate_limit",
	DropLatching:       "latching",
	DropBlocked:        "blocked",
	DropSRTPAuth:       "srtp_auth",
	DropSRTPReplay:     "srtp_replay",
	DropSRTPNoKey:      "srtp_no_key",
	DropSRTPProtect:    "srtp_protect",
	DropStale:          "stale",
}

func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return fmt.Sprintf("drop(%d)", uint8(r))
}

// LegConfig is what signalling says about one leg's remote party.
type LegConfig struct {
	// Remote is where the leg's RTP goes. Zero: learn it from the leg's
	// packets (latching; see ExpectedIP).
	Remote netip.AddrPort
	// ExpectedIP is where the remote's media will come from, when
	// signalling knows it (SDP c=, the SIP peer) but not the port a NAT
	// will use. While Remote is zero the leg latches only to a valid RTP
	// packet from this IP, on any port; packets from other IPs are refused
	// (LatchRejectUnexpectedIP). Zero: the leg latches to a source only
	// after LatchProbation consistent packets from it.
	ExpectedIP netip.Addr
	// RemoteRTCP is where the leg's RTCP goes (SDP a=rtcp, RFC 3605). Zero:
	// Remote itself with rtcp-mux, else Remote's port+1 (RFC 3550 section
	// 11); with Remote zero too, learned from the first valid RTCP packet.
	RemoteRTCP netip.AddrPort
	// RTCPMux: RTP and RTCP share one port on both ends (RFC 5761).
	RTCPMux bool
	// Codecs maps the payload types this leg's remote sends to codecs, for
	// masking (SDP a=rtpmap; build it with mask.CodecMap.Set). Zero: the
	// RFC 3551 static types (0 PCMU, 8 PCMA, 13 CN).
	Codecs mask.CodecMap
	// TelephoneEventPT is the payload type of RFC 4733 telephone-events
	// this leg's remote sends (96-127 in practice); 0: none besides what
	// Codecs maps.
	TelephoneEventPT uint8
	// SRTP makes the leg SRTP (RFC 3711) with these keys; nil: plain RTP. Packets from
	// the party are authenticated and decrypted before anything else looks at them
	// (latching, masking, recording); packets to it are encrypted as they leave.
	SRTP *srtp.Keys
	// Latched says Remote (and RemoteRTCP, when set) were learned from the
	// party's packets by an earlier holder of the call (a takeover): they
	// are used as given and reported as latched, and the leg does not latch
	// again.
	Latched bool
}

// DigitEvent is a digit captured in a direction under secure capture. Digit
// is card data: never log it (String hides it).
type DigitEvent struct {
	Dir    Direction
	Digit  byte // '0'-'9', '*', '#', 'A'-'D'
	Source mask.Source
	// RTPTimestamp is where the key press starts on the sender's RTP
	// timeline.
	RTPTimestamp uint32
}

// String shows everything but the digit.
func (e DigitEvent) String() string {
	return fmt.Sprintf("digit(*) %v %v ts=%d", e.Dir, e.Source, e.RTPTimestamp)
}

// CallConfig configures a Call's two legs.
type CallConfig struct {
	Customer, Agent LegConfig
	// StrictSource drops packets that do not come from the leg's remote
	// (configured or latched) instead of forwarding them.
	StrictSource bool
	// LockSSRC: each leg learns the SSRC of its first accepted RTP packet
	// and drops RTP with any other SSRC (RFC 3550 section 8.2 allows a
	// source to change it, so this is opt-in; SetRemote, as after a
	// re-INVITE or transfer, learns again).
	LockSSRC bool
	// LocalPorts are the even RTP ports to bind per leg (Customer, Agent);
	// 0 picks a free pair at random. A node taking a call over rebinds the
	// ports the parties already send to (PortAllocator.AllocateAt).
	LocalPorts [2]uint16
}

func (c *CallConfig) leg(l Leg) LegConfig {
	if l == Agent {
		return c.Agent
	}
	return c.Customer
}

// LatchEvent reports that a leg learned a remote address from a packet.
type LatchEvent struct {
	Leg  Leg
	RTCP bool // the RTCP remote latched; otherwise the RTP remote
	Addr netip.AddrPort
}

// LatchProbation is how many consistent RTP packets (one source, one SSRC,
// sequence numbers each 1..maxProbationStep ahead) a leg without a remote
// or an expected IP waits for before it latches to their source: a stray or
// scanning packet (one per port) never takes a leg over.
const LatchProbation = 3

// maxProbationStep is the largest sequence number step a probation
// accepts, so a few packets lost at call start do not restart it.
const maxProbationStep = 8

// LatchReject says why a valid packet was refused as a leg's remote: an
// attempt to take the leg over, or media from a place it should not come
// from. Its String values are stable metric label values.
type LatchReject uint8

const (
	// LatchRejectOtherSource: the leg's remote is known (given, or latched:
	// a leg latches once and moves only by SetRemote) and the packet came
	// from elsewhere.
	LatchRejectOtherSource LatchReject = iota
	// LatchRejectUnexpectedIP: the leg waits to latch with an ExpectedIP and
	// the packet came from another IP.
	LatchRejectUnexpectedIP
	// LatchRejectCompeting: the leg waits to latch in probation and another
	// source's packet displaced the one it was watching (the displaced
	// source is the one reported).
	LatchRejectCompeting
	// NumLatchRejects sizes arrays indexed by LatchReject.
	NumLatchRejects
)

var latchRejectNames = [NumLatchRejects]string{"other_source", "unexpected_ip", "competing_source"}

func (r LatchReject) String() string {
	if r < NumLatchRejects {
		return latchRejectNames[r]
	}
	return fmt.Sprintf("latch_reject(%d)", uint8(r))
}

// LatchRejectEvent reports refused attempts to latch a leg (WithOnLatchReject).
type LatchRejectEvent struct {
	Leg    Leg
	Reason LatchReject
	Addr   netip.AddrPort // the source refused
	Count  uint64         // the leg's refusals so far, all reasons
}

// LegStats are the counters of one leg since the call was created. Received
// counts every datagram on the leg's sockets, dropped or not; Sent counts
// packets sent from the leg's sockets to its remote; Drops counts packets
// received on this leg and not forwarded, by reason.
type LegStats struct {
	RTPPacketsReceived, RTPBytesReceived   uint64
	RTCPPacketsReceived, RTCPBytesReceived uint64
	RTPPacketsSent, RTPBytesSent           uint64
	RTCPPacketsSent, RTCPBytesSent         uint64
	Drops                                  [NumDropReasons]uint64
	// LatchRejects counts valid packets refused as the leg's remote, by
	// reason (with StrictSource also dropped; without, forwarded).
	LatchRejects [NumLatchRejects]uint64
	// MaskedSamples counts 8 kHz samples of the leg's audio replaced by masking toward
	// the other party.
	MaskedSamples uint64
}

// LatchRejected is the sum of LatchRejects.
func (s *LegStats) LatchRejected() uint64 {
	var n uint64
	for _, r := range s.LatchRejects {
		n += r
	}
	return n
}

// Dropped is the sum of Drops.
func (s *LegStats) Dropped() uint64 {
	var n uint64
	for _, d := range s.Drops {
		n += d
	}
	return n
}

// Package offeranswer turns SDP offers and answers (RFC 3264) into hush sessions, for SIP
// platforms that steer a media relay by rewriting SDP: the ng protocol (Kamailio's and
// OpenSIPS's rtpengine modules) and the gRPC Offer/Answer calls (B2BUAs).
//
// A SIP call (Call-ID) is one session of the registry, through the same operations the
// gRPC API uses, so an agent desktop can pause, resume and capture over gRPC while a proxy
// drives the SIP side. The first offer creates the session; the caller is the customer
// (or the agent, by configuration or per call; see Party). An offer rewrites the
// sender's SDP to point the recipient at hush and sets the sender's leg from it; an answer
// does the same the other way. Re-offers from either side (hold, codec change, new port),
// early and forked answers (several to-tags: the latest answer's address wins) update the
// same session.
//
// The call's audio is the first audio m= line. Further m= lines (a second audio, video)
// are refused with port 0, or relayed plain on request: never masked, never recorded, so
// a stream hush does not guard is never mistaken for the call's audio. ICE attributes are
// always removed from what hush relays (a candidate left in place would let media bypass
// hush); SRTP, DTLS and non-RTP audio are refused.
package offeranswer

// Package rtp parses RTP and RTCP packets without allocating.
//
// It is the first step of hush's packet loop: every datagram a relay socket
// receives is checked here before anything else looks at it, so the parsers
// treat their input as hostile. They never panic, never allocate, and report
// bad input with the sentinel errors in errors.go.
//
// Header.Unmarshal decodes the RTP fixed header, the CSRC list and the
// header-extension framing (RFC 3550 section 5.1 and 5.3.1) into a struct the
// caller owns and reuses; the payload stays a subslice of the input buffer
// (Header.Payload). The header-extension elements themselves (RFC 8285) are
// not decoded: the relay forwards them untouched.
//
// ValidateRTCP walks a compound RTCP packet with the checks of RFC 3550
// section 6.4.1 and appendix A.2, and IsRTCP tells RTCP from RTP on a socket
// that carries both (rtcp-mux, RFC 5761 section 4).
package rtp

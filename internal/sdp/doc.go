// Package sdp reads and rewrites SDP bodies (RFC 8866, offer/answer RFC 3264) for hush's
// SIP integration, on top of github.com/pion/sdp/v3.
//
// Parse extracts what a media relay needs from each m= line: the effective connection
// address and port, RTCP (a=rtcp, RFC 3605; a=rtcp-mux, RFC 5761), the payload type map
// (a=rtpmap and the RFC 3551 static types), the direction and whether ICE or SRTP is in
// play. Marshal writes the same body back with hush's address and ports in the c=, m= and
// a=rtcp lines, and changes nothing else: codecs, fmtp, telephone-event, ptime, direction
// and attributes hush does not know pass through in their order. ICE attributes are
// removed on request (hush is no ICE agent, and a candidate left in place would let media
// bypass it).
//
// Bodies are untrusted: their size, the number of media sections and of payload types are
// bounded, and every error wraps ErrParse or a more specific sentinel, never a panic.
package sdp

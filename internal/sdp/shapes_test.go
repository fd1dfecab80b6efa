package sdp

import "strings"

// Real-world SDP shapes, written for these tests from the public documentation and
// published examples of each product (none is a copy of a captured body). Addresses are
// from the documentation ranges (RFC 5737, RFC 3849); session ids and ports are made up.
// What each shape exercises is noted beside it.

func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

var (
	// sipp's built-in uac scenario (sip-tester, `sipp -sn uac`): the smallest real offer,
	// one static payload type, session-level c=. Kamailio passes it on unchanged.
	shapeSipp = crlf(
		"v=0",
		"o=user1 53655765 2353687637 IN IP4 192.0.2.1",
		"s=-",
		"c=IN IP4 192.0.2.1",
		"t=0 0",
		"m=audio 6000 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
	)

	// What rtpengine returns through Kamailio's rtpengine module with replace-origin and
	// replace-session-connection: a=rtcp with the port only, direction last (rtpengine's
	// ng_control_protocol.md and the module's README describe these rewrites).
	shapeKamailioRtpengine = crlf(
		"v=0",
		"o=- 3977416392 3977416393 IN IP4 192.0.2.50",
		"s=-",
		"c=IN IP4 192.0.2.50",
		"t=0 0",
		"m=audio 30010 RTP/AVP 8 0 101",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=sendrecv",
		"a=rtcp:30011",
		"a=ptime:20",
	)

	// FreeSWITCH (mod_sofia) offer: G.722 and CN offered, telephone-event at 101, a=rtcp
	// in its long form with an address (FreeSWITCH's wiki examples of its SDP).
	shapeFreeSWITCH = crlf(
		"v=0",
		"o=FreeSWITCH 1700000000 1700000001 IN IP4 198.51.100.10",
		"s=FreeSWITCH",
		"c=IN IP4 198.51.100.10",
		"t=0 0",
		"m=audio 16384 RTP/AVP 9 0 8 101 13",
		"a=rtpmap:9 G722/8000",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=rtpmap:13 CN/8000",
		"a=ptime:20",
		"a=sendrecv",
		"a=rtcp:16385 IN IP4 198.51.100.10",
	)

	// Asterisk chan_pjsip offer: GSM among the codecs, a=maxptime (Asterisk's default
	// SDP, as its documentation and mailing-list examples show).
	shapeAsterisk = crlf(
		"v=0",
		"o=- 1234567890 2 IN IP4 198.51.100.20",
		"s=Asterisk",
		"c=IN IP4 198.51.100.20",
		"t=0 0",
		"m=audio 10000 RTP/AVP 0 8 3 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:3 GSM/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=maxptime:150",
		"a=sendrecv",
	)

	// Cisco CUBE (IOS-XE) offer: the session c= repeated in the media section, comfort
	// noise on Cisco's legacy payload type 19 (Cisco's CUBE configuration guides show
	// this SDP).
	shapeCUBE = crlf(
		"v=0",
		"o=CiscoSystemsSIP-GW-UserAgent 4420 2183 IN IP4 203.0.113.20",
		"s=SIP Call",
		"c=IN IP4 203.0.113.20",
		"t=0 0",
		"m=audio 16482 RTP/AVP 0 101 19",
		"c=IN IP4 203.0.113.20",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=rtpmap:19 CN/8000",
		"a=ptime:20",
	)

	// CUBE's old-style hold re-offer: c=0.0.0.0 (RFC 2543 hold, RFC 3264 section 8.4).
	shapeCUBEHoldZero = strings.Replace(strings.Replace(shapeCUBE,
		"c=IN IP4 203.0.113.20", "c=IN IP4 0.0.0.0", -1), "o=CiscoSystemsSIP-GW-UserAgent 4420 2183", "o=CiscoSystemsSIP-GW-UserAgent 4420 2184", 1)

	// Cisco's fax switch-over re-offer: T.38 over UDPTL (m=image), which hush does not relay.
	shapeCUBEFax = crlf(
		"v=0",
		"o=CiscoSystemsSIP-GW-UserAgent 4420 2185 IN IP4 203.0.113.20",
		"s=SIP Call",
		"c=IN IP4 203.0.113.20",
		"t=0 0",
		"m=image 16482 udptl t38",
		"a=T38FaxVersion:0",
		"a=T38MaxBitRate:14400",
	)

	// Twilio Elastic SIP Trunking offer toward a customer's PBX: PCMU and telephone-event
	// only, ptime and maxptime (the shape Twilio's trunking documentation describes).
	shapeTwilio = crlf(
		"v=0",
		"o=root 1280820532 1280820532 IN IP4 192.0.2.200",
		"s=Twilio Media Gateway",
		"c=IN IP4 192.0.2.200",
		"t=0 0",
		"m=audio 16254 RTP/AVP 0 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=maxptime:150",
		"a=sendrecv",
	)

	// A WebRTC browser offer (JSEP, RFC 8829; as Chrome writes it): BUNDLE, DTLS-SRTP,
	// ICE with a host candidate, rtcp-mux, Opus first, a video section.
	shapeWebRTC = crlf(
		"v=0",
		"o=- 4611731400430051336 2 IN IP4 127.0.0.1",
		"s=-",
		"t=0 0",
		"a=group:BUNDLE 0 1",
		"a=extmap-allow-mixed",
		"a=msid-semantic: WMS stream",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126",
		"c=IN IP4 0.0.0.0",
		"a=rtcp:9 IN IP4 0.0.0.0",
		"a=candidate:842163049 1 udp 2122260223 192.0.2.33 54321 typ host generation 0",
		"a=ice-ufrag:Kx4E",
		"a=ice-pwd:q8KZaPkNf2AEnZQy0mDSV+Ut",
		"a=ice-options:trickle",
		"a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2",
		"a=setup:actpass",
		"a=mid:0",
		"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
		"a=sendrecv",
		"a=msid:stream track-a",
		"a=rtcp-mux",
		"a=rtpmap:111 opus/48000/2",
		"a=rtcp-fb:111 transport-cc",
		"a=fmtp:111 minptime=10;useinbandfec=1",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:126 telephone-event/8000",
		"a=ssrc:1001 cname:abcdefgh",
		"m=video 9 UDP/TLS/RTP/SAVPF 96",
		"c=IN IP4 0.0.0.0",
		"a=rtcp:9 IN IP4 0.0.0.0",
		"a=ice-ufrag:Kx4E",
		"a=ice-pwd:q8KZaPkNf2AEnZQy0mDSV+Ut",
		"a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2",
		"a=setup:actpass",
		"a=mid:1",
		"a=sendrecv",
		"a=rtcp-mux",
		"a=rtpmap:96 VP8/90000",
	)

	// A desk phone's audio-and-video offer over plain RTP with rtcp-mux offered, LF line
	// endings and IPv6 (RFC 8866 allows LF; RFC 3849 addresses).
	shapeVideoPhone6 = "v=0\n" +
		"o=phone 77 1 IN IP6 2001:db8::10\n" +
		"s=call\n" +
		"c=IN IP6 2001:db8::10\n" +
		"t=0 0\n" +
		"m=audio 5004 RTP/AVP 0 101\n" +
		"a=rtpmap:101 telephone-event/8000\n" +
		"a=rtcp-mux\n" +
		"a=x-vendor-thing:42\n" +
		"m=video 5006 RTP/AVP 97\n" +
		"a=rtpmap:97 H264/90000\n" +
		"a=fmtp:97 profile-level-id=42e01f\n" +
		"a=recvonly\n"
)

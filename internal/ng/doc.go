// Package ng speaks rtpengine's ng control protocol, so SIP proxies (Kamailio's and
// OpenSIPS's rtpengine modules) and B2BUAs drive hush as they drive rtpengine: a UDP
// datagram holds a cookie, a space and a bencoded dictionary; the reply repeats the cookie.
//
// The codec (bencode, message framing) is shared with hushload, which speaks the same
// protocol to rtpengine and to hush. The server maps each command onto the same session
// operations the gRPC API uses (through package offeranswer for offer and answer), answers
// a retransmitted request from a cache instead of acting twice, limits requests per
// source address and counts every error by reason. docs/NG.md maps every key and flag of
// rtpengine's protocol onto hush.
package ng

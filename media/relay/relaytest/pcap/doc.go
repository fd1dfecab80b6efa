// Package pcap reads classic libpcap capture files and extracts UDP datagrams from their
// frames, so captured calls (for example sip-tester's reference pcaps) can be replayed
// through hush in tests. It is test support: no command or library package imports it.
//
// Captures are untrusted input: every length is checked against the bytes present, and bad
// data yields an error wrapping one of this package's sentinels, never a panic. Supported:
// microsecond and nanosecond magic in either byte order; link types Ethernet (with 802.1Q
// tags), Linux cooked (SLL, SLL2), raw IP and BSD loopback; IPv4 (no fragments) and IPv6
// (no extension headers) carrying UDP.
package pcap

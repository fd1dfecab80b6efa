package pcap

import "errors"

var (
	// ErrBadMagic: the file does not start with a pcap magic number.
	ErrBadMagic = errors.New("pcap: not a pcap file")
	// ErrTruncated: a header or record claims more bytes than are present.
	ErrTruncated = errors.New("pcap: truncated")
	// ErrTooLarge: a record is larger than the sanity bound.
	ErrTooLarge = errors.New("pcap: record too large")
	// ErrNotUDP: the frame is not a UDP datagram this package understands.
	ErrNotUDP = errors.New("pcap: not a UDP datagram")
	// ErrLinkType: the capture's link type is not supported.
	ErrLinkType = errors.New("pcap: unsupported link type")
)

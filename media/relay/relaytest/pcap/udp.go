package pcap

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Datagram is a UDP datagram found in a frame. Payload aliases the frame.
type Datagram struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

// UDP extracts the UDP datagram from a frame of the given link type.
func UDP(linkType uint32, frame []byte) (Datagram, error) {
	ip, ethertype, err := network(linkType, frame)
	if err != nil {
		return Datagram{}, err
	}
	switch ethertype {
	case 0x0800:
		return udp4(ip)
	case 0x86dd:
		return udp6(ip)
	}
	return Datagram{}, fmt.Errorf("%w: ethertype %#04x", ErrNotUDP, ethertype)
}

// network strips the link layer and returns the IP packet and its ethertype.
func network(linkType uint32, f []byte) ([]byte, uint16, error) {
	switch linkType {
	case LinkEthernet:
		if len(f) < 14 {
			return nil, 0, fmt.Errorf("%w: ethernet header", ErrTruncated)
		}
		et, off := binary.BigEndian.Uint16(f[12:14]), 14
		for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++ { // 802.1Q / QinQ
			if len(f) < off+4 {
				return nil, 0, fmt.Errorf("%w: VLAN tag", ErrTruncated)
			}
			et, off = binary.BigEndian.Uint16(f[off+2:off+4]), off+4
		}
		return f[off:], et, nil
	case LinkLinuxSLL:
		if len(f) < 16 {
			return nil, 0, fmt.Errorf("%w: SLL header", ErrTruncated)
		}
		return f[16:], binary.BigEndian.Uint16(f[14:16]), nil
	case LinkSLL2:
		if len(f) < 20 {
			return nil, 0, fmt.Errorf("%w: SLL2 header", ErrTruncated)
		}
		return f[20:], binary.BigEndian.Uint16(f[0:2]), nil
	case LinkNull:
		if len(f) < 4 {
			return nil, 0, fmt.Errorf("%w: loopback header", ErrTruncated)
		}
		// The family is in host byte order of the capturing machine: accept either.
		fam := binary.LittleEndian.Uint32(f[:4])
		if fam > 0xffff {
			fam = binary.BigEndian.Uint32(f[:4])
		}
		switch fam {
		case 2:
			return f[4:], 0x0800, nil
		case 24, 28, 30:
			return f[4:], 0x86dd, nil
		}
		return nil, 0, fmt.Errorf("%w: loopback family %d", ErrNotUDP, fam)
	case LinkRaw, LinkIPv4, LinkIPv6:
		if len(f) < 1 {
			return nil, 0, fmt.Errorf("%w: IP header", ErrTruncated)
		}
		if f[0]>>4 == 6 {
			return f, 0x86dd, nil
		}
		return f, 0x0800, nil
	}
	return nil, 0, fmt.Errorf("%w: %d", ErrLinkType, linkType)
}

func udp4(p []byte) (Datagram, error) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return Datagram{}, fmt.Errorf("%w: IPv4 header", ErrTruncated)
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if ihl < 20 || total < ihl || total > len(p) {
		return Datagram{}, fmt.Errorf("%w: IPv4 lengths", ErrTruncated)
	}
	if p[9] != 17 {
		return Datagram{}, fmt.Errorf("%w: IP protocol %d", ErrNotUDP, p[9])
	}
	if frag := binary.BigEndian.Uint16(p[6:8]); frag&0x3fff != 0 {
		return Datagram{}, fmt.Errorf("%w: IPv4 fragment", ErrNotUDP)
	}
	src := netip.AddrFrom4([4]byte(p[12:16]))
	dst := netip.AddrFrom4([4]byte(p[16:20]))
	return udpPayload(src, dst, p[ihl:total])
}

func udp6(p []byte) (Datagram, error) {
	if len(p) < 40 || p[0]>>4 != 6 {
		return Datagram{}, fmt.Errorf("%w: IPv6 header", ErrTruncated)
	}
	plen := int(binary.BigEndian.Uint16(p[4:6]))
	if 40+plen > len(p) {
		return Datagram{}, fmt.Errorf("%w: IPv6 payload length", ErrTruncated)
	}
	if p[6] != 17 {
		return Datagram{}, fmt.Errorf("%w: next header %d", ErrNotUDP, p[6])
	}
	src := netip.AddrFrom16([16]byte(p[8:24]))
	dst := netip.AddrFrom16([16]byte(p[24:40]))
	return udpPayload(src, dst, p[40:40+plen])
}

func udpPayload(src, dst netip.Addr, u []byte) (Datagram, error) {
	if len(u) < 8 {
		return Datagram{}, fmt.Errorf("%w: UDP header", ErrTruncated)
	}
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	if ulen < 8 || ulen > len(u) {
		return Datagram{}, fmt.Errorf("%w: UDP length", ErrTruncated)
	}
	return Datagram{
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(u[0:2])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(u[2:4])),
		Payload: u[8:ulen],
	}, nil
}

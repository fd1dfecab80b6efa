package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/hushmedia/hush/media/rtp"
)

// A tiny pcap reader for the replay test: classic pcap (not pcapng), both
// byte orders, micro- or nanosecond stamps; Ethernet (with one VLAN tag),
// Linux cooked v1/v2 and raw IP link types; IPv4 (unfragmented) and IPv6
// (no extension headers); UDP.

var errPcap = errors.New("pcap")

const (
	linkEthernet = 1
	linkRaw      = 101
	linkSLL      = 113
	linkSLL2     = 276
)

// udpPayloads returns the UDP payloads of a pcap file in capture order.
func udpPayloads(data []byte) ([][]byte, error) {
	if len(data) < 24 {
		return nil, fmt.Errorf("%w: short global header", errPcap)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: bad magic % x", errPcap, data[:4])
	}
	link := bo.Uint32(data[20:]) & 0x0fffffff
	var out [][]byte
	for off := 24; off < len(data); {
		if len(data)-off < 16 {
			return nil, fmt.Errorf("%w: short record header at %d", errPcap, off)
		}
		incl := int(bo.Uint32(data[off+8:]))
		off += 16
		if incl > len(data)-off {
			return nil, fmt.Errorf("%w: record past end at %d", errPcap, off)
		}
		if p, ok := frameUDP(link, data[off:off+incl]); ok {
			out = append(out, p)
		}
		off += incl
	}
	return out, nil
}

func frameUDP(link uint32, f []byte) ([]byte, bool) {
	var proto uint16
	switch link {
	case linkEthernet:
		if len(f) < 14 {
			return nil, false
		}
		proto, f = binary.BigEndian.Uint16(f[12:]), f[14:]
		if proto == 0x8100 && len(f) >= 4 { // 802.1Q
			proto, f = binary.BigEndian.Uint16(f[2:]), f[4:]
		}
	case linkSLL:
		if len(f) < 16 {
			return nil, false
		}
		proto, f = binary.BigEndian.Uint16(f[14:]), f[16:]
	case linkSLL2:
		if len(f) < 20 {
			return nil, false
		}
		proto, f = binary.BigEndian.Uint16(f[0:]), f[20:]
	case linkRaw:
		if len(f) < 1 {
			return nil, false
		}
		proto = 0x0800
		if f[0]>>4 == 6 {
			proto = 0x86dd
		}
	default:
		return nil, false
	}
	var udp []byte
	switch proto {
	case 0x0800:
		if len(f) < 20 || f[0]>>4 != 4 || f[9] != 17 {
			return nil, false
		}
		ihl := int(f[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(f[2:]))
		if binary.BigEndian.Uint16(f[6:])&0x3fff != 0 || ihl < 20 || total < ihl || total > len(f) {
			return nil, false // fragment or inconsistent lengths
		}
		udp = f[ihl:total]
	case 0x86dd:
		if len(f) < 40 || f[6] != 17 {
			return nil, false
		}
		plen := int(binary.BigEndian.Uint16(f[4:]))
		if 40+plen > len(f) {
			return nil, false
		}
		udp = f[40 : 40+plen]
	default:
		return nil, false
	}
	if len(udp) < 8 {
		return nil, false
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	if ulen < 8 || ulen > len(udp) {
		return nil, false
	}
	return udp[8:ulen], true
}

func TestPcapReader(t *testing.T) {
	// Ethernet/IPv4/UDP frame with a 3-octet payload, little-endian file.
	frame := []byte{
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
		0x45, 0, 0, 31, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x13, 0x88, 0x13, 0x89, 0, 11, 0, 0, 'a', 'b', 'c',
	}
	file := make([]byte, 24+16)
	binary.LittleEndian.PutUint32(file, 0xa1b2c3d4)
	binary.LittleEndian.PutUint32(file[20:], linkEthernet)
	binary.LittleEndian.PutUint32(file[24+8:], uint32(len(frame)))
	file = append(file, frame...)
	got, err := udpPayloads(file)
	if err != nil || len(got) != 1 || string(got[0]) != "abc" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, bad := range [][]byte{file[:10], append([]byte{1, 2, 3, 4}, file[4:]...), file[:30], file[:len(file)-1]} {
		if _, err := udpPayloads(bad); !errors.Is(err, errPcap) {
			t.Fatalf("bad file accepted: %v", err)
		}
	}
}

// TestReplayPcap sends every RTP packet of a real capture through a call and
// checks the agent gets each one byte for byte and in order.
func TestReplayPcap(t *testing.T) { forEngines(t, testReplayPcapOnEngine) }

func testReplayPcapOnEngine(t *testing.T) {
	const path = "/usr/share/sip-tester/g711a.pcap"
	data, err := os.ReadFile(path)
	if err != nil {
		if ciRequired() {
			t.Fatalf("%s: %v (Debian package sip-tester)", path, err)
		}
		t.Skipf("%s missing: install Debian package sip-tester (%v)", path, err)
	}
	payloads, err := udpPayloads(data)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	var h rtp.Header
	for _, p := range payloads {
		if _, err := h.Unmarshal(p); err == nil && !rtp.IsRTCP(p) && len(p) <= MaxPacketSize {
			pkts = append(pkts, p)
		}
	}
	if len(pkts) < 100 {
		t.Fatalf("only %d RTP packets in %s", len(pkts), path)
	}
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit())
	// A bounded window in flight, so the order is tested without
	// overrunning socket buffers on a loaded box.
	const window = 32
	next := 0
	for i, p := range pkts {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		if i-next+1 == window {
			expect(t, e.b.s.RTP, pkts[next], c.LocalRTP(Agent))
			next++
		}
	}
	for ; next < len(pkts); next++ {
		expect(t, e.b.s.RTP, pkts[next], c.LocalRTP(Agent))
	}
	c.Close()
	if s := c.Stats(Agent); s.RTPPacketsSent != uint64(len(pkts)) {
		t.Fatalf("sent %d of %d", s.RTPPacketsSent, len(pkts))
	}
	t.Logf("replayed %d RTP packets from %s", len(pkts), path)
}

package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"testing"
)

// build makes a pcap file with one record per frame.
func build(order binary.ByteOrder, nano bool, link uint32, frames ...[]byte) []byte {
	var b bytes.Buffer
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	h := make([]byte, 24)
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 65535)
	order.PutUint32(h[20:], link)
	b.Write(h)
	for i, f := range frames {
		r := make([]byte, 16)
		order.PutUint32(r[0:], 1700000000+uint32(i))
		order.PutUint32(r[4:], 500)
		order.PutUint32(r[8:], uint32(len(f)))
		order.PutUint32(r[12:], uint32(len(f)))
		b.Write(r)
		b.Write(f)
	}
	return b.Bytes()
}

func udpFrame(src, dst netip.AddrPort, payload []byte) []byte {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	if src.Addr().Is4() {
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(u)))
		ip[8], ip[9] = 64, 17
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		return append(ip, u...)
	}
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(u)))
	ip[6], ip[7] = 17, 64
	s, d := src.Addr().As16(), dst.Addr().As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	return append(ip, u...)
}

func ether(et uint16, ip []byte) []byte {
	f := make([]byte, 14)
	binary.BigEndian.PutUint16(f[12:], et)
	return append(f, ip...)
}

func TestLinkTypesAndByteOrders(t *testing.T) {
	src4, dst4 := netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.2:6000")
	src6, dst6 := netip.MustParseAddrPort("[2001:db8::1]:5000"), netip.MustParseAddrPort("[2001:db8::2]:6000")
	payload := []byte("rtp-bytes")
	ip4 := udpFrame(src4, dst4, payload)
	ip6 := udpFrame(src6, dst6, payload)
	vlan := append([]byte{}, ether(0x8100, nil)...)
	vlan = append(vlan, 0, 7, 0x08, 0x00)
	vlan = append(vlan, ip4...)
	sll := append(make([]byte, 14), 0x08, 0x00)
	sll = append(sll, ip4...)
	sll2 := append([]byte{0x86, 0xdd}, make([]byte, 18)...)
	sll2 = append(sll2, ip6...)
	null := append([]byte{2, 0, 0, 0}, ip4...)
	cases := []struct {
		name     string
		link     uint32
		frame    []byte
		src, dst netip.AddrPort
	}{
		{"ethernet-ipv4", LinkEthernet, ether(0x0800, ip4), src4, dst4},
		{"ethernet-ipv6", LinkEthernet, ether(0x86dd, ip6), src6, dst6},
		{"ethernet-vlan", LinkEthernet, vlan, src4, dst4},
		{"sll", LinkLinuxSLL, sll, src4, dst4},
		{"sll2-ipv6", LinkSLL2, sll2, src6, dst6},
		{"null", LinkNull, null, src4, dst4},
		{"raw-ipv4", LinkRaw, ip4, src4, dst4},
		{"raw-ipv6", LinkIPv6, ip6, src6, dst6},
	}
	for _, c := range cases {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			for _, nano := range []bool{false, true} {
				rd, err := NewReader(bytes.NewReader(build(order, nano, c.link, c.frame)))
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				rec, err := rd.Next()
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				wantNS := 500_000
				if nano {
					wantNS = 500
				}
				if rec.Time.Unix() != 1700000000 || rec.Time.Nanosecond() != wantNS {
					t.Errorf("%s: time %v", c.name, rec.Time)
				}
				d, err := UDP(rd.LinkType, rec.Data)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if d.Src != c.src || d.Dst != c.dst || string(d.Payload) != string(payload) {
					t.Errorf("%s: got %v -> %v %q", c.name, d.Src, d.Dst, d.Payload)
				}
				if _, err := rd.Next(); err != io.EOF {
					t.Errorf("%s: want EOF, got %v", c.name, err)
				}
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	good := udpFrame(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), []byte("x"))
	tcp := append([]byte{}, good...)
	tcp[9] = 6
	frag := append([]byte{}, good...)
	frag[6] = 0x20 // more fragments
	shortUDP := append([]byte{}, good...)
	binary.BigEndian.PutUint16(shortUDP[20+4:], 200)
	cases := []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"bad magic", make([]byte, 24), ErrBadMagic},
		{"truncated record header", build(binary.LittleEndian, false, LinkRaw, good)[:30], ErrTruncated},
		{"truncated record data", build(binary.LittleEndian, false, LinkRaw, good)[:45], ErrTruncated},
		{"huge record", func() []byte {
			b := build(binary.LittleEndian, false, LinkRaw, good)
			binary.LittleEndian.PutUint32(b[24+8:], 1<<30)
			return b
		}(), ErrTooLarge},
		{"tcp", build(binary.LittleEndian, false, LinkRaw, tcp), ErrNotUDP},
		{"fragment", build(binary.LittleEndian, false, LinkRaw, frag), ErrNotUDP},
		{"udp length beyond frame", build(binary.LittleEndian, false, LinkRaw, shortUDP), ErrTruncated},
		{"short ethernet", build(binary.LittleEndian, false, LinkEthernet, []byte{1, 2, 3}), ErrTruncated},
		{"arp", build(binary.LittleEndian, false, LinkEthernet, ether(0x0806, good)), ErrNotUDP},
		{"unknown link", build(binary.LittleEndian, false, 147, good), ErrLinkType},
		{"short ipv4", build(binary.LittleEndian, false, LinkRaw, good[:10]), ErrTruncated},
	}
	for _, c := range cases {
		err := readAll(c.file)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// readAll reads every record and extracts its datagram, returning the first error.
func readAll(file []byte) error {
	rd, err := NewReader(bytes.NewReader(file))
	if err != nil {
		return err
	}
	for i := 0; i < 100000; i++ {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := UDP(rd.LinkType, rec.Data); err != nil {
			return err
		}
	}
	return nil
}

const sipTesterG711 = "/usr/share/sip-tester/g711a.pcap"

func TestSipTesterCapture(t *testing.T) {
	b, err := os.ReadFile(sipTesterG711)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing (Debian package sip-tester): %v", sipTesterG711, err)
		}
		t.Skipf("%s missing: install Debian package sip-tester", sipTesterG711)
	}
	rd, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		d, err := UDP(rd.LinkType, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Payload) < 12 || d.Payload[0]>>6 != 2 {
			t.Fatalf("record %d is not RTP", n)
		}
		n++
	}
	if n < 100 {
		t.Fatalf("only %d packets", n)
	}
	t.Logf("%d RTP packets", n)
}

func FuzzPcap(f *testing.F) {
	good := udpFrame(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), []byte("x"))
	f.Add(build(binary.LittleEndian, false, LinkEthernet, ether(0x0800, good)))
	f.Add(build(binary.BigEndian, true, LinkRaw, good))
	f.Add(build(binary.LittleEndian, false, LinkSLL2, good))
	f.Add(build(binary.LittleEndian, false, LinkNull, good))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readAll(b) // must not panic
	})
}

package relay

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	psrtp "github.com/pion/srtp/v3"

	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/srtp"
	"github.com/hushmedia/hush/media/udpio"
)

// pionCtx is a far end's SRTP context built on pion alone, so these tests do not check
// hush's srtp package against itself.
func pionCtx(t testing.TB, k srtp.Key, opts ...psrtp.ContextOption) *psrtp.Context {
	t.Helper()
	profiles := map[srtp.Suite]psrtp.ProtectionProfile{
		srtp.AES128CMSHA1_80: psrtp.ProtectionProfileAes128CmHmacSha1_80,
		srtp.AES128CMSHA1_32: psrtp.ProtectionProfileAes128CmHmacSha1_32,
		srtp.AEADAES128GCM:   psrtp.ProtectionProfileAeadAes128Gcm,
		srtp.AEADAES256GCM:   psrtp.ProtectionProfileAeadAes256Gcm,
	}
	m := k.Material()
	keyLen := 16
	if k.Suite() == srtp.AEADAES256GCM {
		keyLen = 32
	}
	c, err := psrtp.CreateContext(m[:keyLen], m[keyLen:], profiles[k.Suite()], opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func genKey(t testing.TB, s srtp.Suite) srtp.Key {
	t.Helper()
	k, err := srtp.GenerateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t testing.TB, c *psrtp.Context, plain []byte) []byte {
	t.Helper()
	b, err := c.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSRTPProcess drives process on an SRTP customer leg and a plain agent leg: only
// packets that authenticate latch, forged, replayed and truncated ones are dropped and
// counted (never forwarded), and what is forwarded is the plain packet.
func TestSRTPProcess(t *testing.T) { forEngines(t, testSRTPProcessOnEngine) }

func testSRTPProcessOnEngine(t *testing.T) {
	cust := genKey(t, srtp.AES128CMSHA1_80)
	hushKey := genKey(t, srtp.AES128CMSHA1_80)
	phone := pionCtx(t, cust)
	forger := pionCtx(t, genKey(t, srtp.AES128CMSHA1_80))
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{SRTP: &srtp.Keys{Recv: cust, Send: hushKey}},
		Agent:    LegConfig{Remote: ap("10.9.9.9:6000")}})
	src := ap("10.0.0.1:5000")
	proc := func(b []byte, from netip.AddrPort) (*Packet, DropReason) {
		p := &Packet{Buf: b, Src: from}
		_, _, r := c.process(Customer, kindRTP, p)
		return p, r
	}
	// Forged packets from the party's address make no progress toward latching.
	for seq := uint16(1); seq <= 5; seq++ {
		if _, r := proc(seal(t, forger, rtpPacket(t, 0, seq, 160)), src); r != DropSRTPAuth {
			t.Fatalf("forged %d: %v", seq, r)
		}
	}
	if addr, _ := c.Remote(Customer); addr.IsValid() {
		t.Fatal("latched on forged packets")
	}
	var first []byte
	for seq := uint16(10); seq <= 12; seq++ {
		plain := rtpPacket(t, 0, seq, 160)
		enc := seal(t, phone, plain)
		if seq == 10 {
			first = append([]byte(nil), enc...)
		}
		p, r := proc(enc, src)
		want := DropLatching
		if seq == 12 {
			want = DropNone
		}
		if r != want {
			t.Fatalf("packet %d: %v, want %v", seq, r, want)
		}
		if r == DropNone && (!bytes.Equal(p.Buf, plain) || p.Header.SequenceNumber != seq || p.seal != nil) {
			t.Fatal("forwarded packet is not the plain one")
		}
	}
	if addr, latched := c.Remote(Customer); addr != src || !latched {
		t.Fatalf("remote %v latched %v", addr, latched)
	}
	if _, r := proc(first, src); r != DropSRTPReplay {
		t.Errorf("replay: %v", r)
	}
	trunc := seal(t, phone, rtpPacket(t, 0, 13, 160))
	if _, r := proc(trunc[:len(trunc)-4], src); r != DropSRTPAuth {
		t.Errorf("truncated tag: %v", r)
	}
	// A genuine packet copied to another source is refused by address before any
	// cryptography, so the genuine one still passes.
	genuine := seal(t, phone, rtpPacket(t, 0, 14, 160))
	if _, r := proc(append([]byte(nil), genuine...), ap("10.6.6.6:1")); r != DropSourceMismatch {
		t.Errorf("copy from elsewhere: %v", r)
	}
	if _, r := proc(genuine, src); r != DropNone {
		t.Errorf("genuine after its copy: %v", r)
	}
	// The agent's packets go to the customer encrypted with hush's key.
	if _, _, r := c.process(Agent, kindRTP, &Packet{Buf: rtpPacket(t, 0, 1, 160), Src: ap("10.9.9.9:6000")}); r != DropNone {
		t.Fatal(r)
	}
	p := &Packet{Buf: rtpPacket(t, 0, 2, 160), Src: ap("10.9.9.9:6000")}
	if _, _, r := c.process(Agent, kindRTP, p); r != DropNone || p.seal == nil || p.seal.keys.Send != hushKey {
		t.Fatalf("%v: not sealed with hush's key", r)
	}
}

// TestSRTPPendingKeys: a leg whose keys signalling has not given yet passes nothing, in
// either direction.
func TestSRTPPendingKeys(t *testing.T) { forEngines(t, testSRTPPendingKeysOnEngine) }

func testSRTPPendingKeysOnEngine(t *testing.T) {
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("10.0.0.1:5000"), SRTP: &srtp.Keys{}},
		Agent:    LegConfig{Remote: ap("10.9.9.9:6000")}})
	if _, _, r := c.process(Customer, kindRTP, &Packet{Buf: rtpPacket(t, 0, 1, 160), Src: ap("10.0.0.1:5000")}); r != DropSRTPNoKey {
		t.Errorf("from the leg: %v", r)
	}
	p := &Packet{Buf: rtpPacket(t, 0, 1, 160), Src: ap("10.9.9.9:6000")}
	if _, _, r := c.process(Agent, kindRTP, p); r != DropNone || p.seal == nil {
		t.Fatal(r)
	}
	if _, _, r := protect(p.seal, false, p.Buf, nil); r != DropSRTPNoKey {
		t.Errorf("to the leg: %v", r)
	}
}

// srtpEnv is a started call with SRTP on the customer leg (and, with both, on the agent
// leg), a phone on each side with pion contexts.
type srtpEnv struct {
	c                  *Call
	cust, agent        *peer
	custTx, custRx     *psrtp.Context // the customer's phone: sends with custKey, receives with hush's
	agentTx, agentRx   *psrtp.Context // nil when the agent leg is plain
	custRTCP, custRTCx *psrtp.Context
}

func newSRTPEnv(t *testing.T, suite srtp.Suite, both bool) *srtpEnv {
	t.Helper()
	lo, hi := testPorts(t)
	pa, err := NewPortAllocator(lo4, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	e := &srtpEnv{cust: newPeer(t, pa, false), agent: newPeer(t, pa, false)}
	ck, hk := genKey(t, suite), genKey(t, suite)
	e.custTx, e.custRx = pionCtx(t, ck), pionCtx(t, hk, psrtp.SRTPReplayProtection(64))
	e.custRTCP, e.custRTCx = pionCtx(t, ck), pionCtx(t, hk)
	cfg := CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: e.cust.addr(), SRTP: &srtp.Keys{Recv: ck, Send: hk}},
		Agent:    LegConfig{Remote: e.agent.addr()}}
	if both {
		ak, hk2 := genKey(t, suite), genKey(t, suite)
		e.agentTx, e.agentRx = pionCtx(t, ak), pionCtx(t, hk2)
		cfg.Agent.SRTP = &srtp.Keys{Recv: ak, Send: hk2}
	}
	e.c = newCall(t, newAlloc(t, lo4), cfg)
	return e
}

func TestSRTPForward(t *testing.T) { forEngines(t, testSRTPForwardOnEngine) }

func testSRTPForwardOnEngine(t *testing.T) {
	for _, suite := range []srtp.Suite{srtp.AES128CMSHA1_80, srtp.AES128CMSHA1_32, srtp.AEADAES128GCM, srtp.AEADAES256GCM} {
		for _, both := range []bool{false, true} {
			name := suite.String() + "/customer"
			if both {
				name += "+agent"
			}
			t.Run(name, func(t *testing.T) {
				e := newSRTPEnv(t, suite, both)
				for seq := uint16(1); seq <= 5; seq++ {
					// customer -> agent: decrypted, re-encrypted when the agent is SRTP.
					plain := rtpPacket(t, 0, seq, 160)
					send(t, e.cust.s.RTP, e.c.LocalRTP(Customer), seal(t, e.custTx, plain))
					got, _ := recv(t, e.agent.s.RTP)
					if both {
						if bytes.Equal(got[12:len(plain)], plain[12:]) {
							t.Fatal("sent to the SRTP agent in the clear")
						}
						var err error
						if got, err = e.agentRx.DecryptRTP(nil, got, nil); err != nil {
							t.Fatalf("agent decrypt: %v", err)
						}
					}
					if !bytes.Equal(got, plain) {
						t.Fatalf("agent got % x", got)
					}
					// agent -> customer: encrypted with hush's key for the customer.
					back := rtpPacket(t, 8, seq, 160)
					out := back
					if both {
						out = seal(t, e.agentTx, back)
					}
					send(t, e.agent.s.RTP, e.c.LocalRTP(Agent), out)
					got, _ = recv(t, e.cust.s.RTP)
					dec, err := e.custRx.DecryptRTP(nil, got, nil)
					if err != nil || !bytes.Equal(dec, back) {
						t.Fatalf("customer decrypt: %v", err)
					}
				}
				// SRTCP both ways.
				rr := rtcpRR(3)
				enc, err := e.custRTCP.EncryptRTCP(nil, rr, nil)
				if err != nil {
					t.Fatal(err)
				}
				send(t, e.cust.s.RTCP, e.c.LocalRTCP(Customer), enc)
				got, _ := recv(t, e.agent.s.RTCP)
				if both {
					if got, err = pionCtxRTCP(t, e, got); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(got, rr) {
					t.Fatalf("RTCP to the agent: % x", got)
				}
				send(t, e.agent.s.RTCP, e.c.LocalRTCP(Agent), sealRTCPIf(t, e, rtcpRR(4)))
				got, _ = recv(t, e.cust.s.RTCP)
				if dec, err := e.custRTCx.DecryptRTCP(nil, got, nil); err != nil || !bytes.Equal(dec, rtcpRR(4)) {
					t.Fatalf("RTCP to the customer: %v", err)
				}
			})
		}
	}
}

// pionCtxRTCP decrypts SRTCP the agent received (fresh contexts per env: pion keeps
// SRTP and SRTCP state apart anyway).
func pionCtxRTCP(t *testing.T, e *srtpEnv, b []byte) ([]byte, error) {
	return e.c.legs[Agent].state.Load().srtp.keysContext(t, false).DecryptRTCP(nil, b, nil)
}

func sealRTCPIf(t *testing.T, e *srtpEnv, rr []byte) []byte {
	if e.agentTx == nil {
		return rr
	}
	b, err := e.c.legs[Agent].state.Load().srtp.keysContext(t, true).EncryptRTCP(nil, rr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keysContext is a pion context for the far end of lc: recv true for what the party
// sends (hush's Recv key), false for what it receives (hush's Send key).
func (lc *legCrypto) keysContext(t *testing.T, recv bool) *psrtp.Context {
	if recv {
		return pionCtx(t, lc.keys.Recv)
	}
	return pionCtx(t, lc.keys.Send)
}

// TestSRTPSetRemoteKeepsContext: a re-INVITE that keeps the keys keeps the replay window
// (a packet from before it is still a replay); new keys start afresh.
func TestSRTPSetRemoteKeepsContext(t *testing.T) {
	forEngines(t, testSRTPSetRemoteKeepsContextOnEngine)
}

func testSRTPSetRemoteKeepsContextOnEngine(t *testing.T) {
	ck, hk := genKey(t, srtp.AES128CMSHA1_80), genKey(t, srtp.AES128CMSHA1_80)
	phone := pionCtx(t, ck)
	cfg := LegConfig{Remote: ap("10.0.0.1:5000"), SRTP: &srtp.Keys{Recv: ck, Send: hk}}
	c := unstartedCall(t, CallConfig{StrictSource: true, Customer: cfg, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}})
	enc := seal(t, phone, rtpPacket(t, 0, 1, 160))
	again := append([]byte(nil), enc...)
	if _, _, r := c.process(Customer, kindRTP, &Packet{Buf: enc, Src: ap("10.0.0.1:5000")}); r != DropNone {
		t.Fatal(r)
	}
	keys := *cfg.SRTP // a copy: equal keys, not the same pointer
	cfg.SRTP = &keys
	if err := c.SetRemote(Customer, cfg); err != nil {
		t.Fatal(err)
	}
	if _, _, r := c.process(Customer, kindRTP, &Packet{Buf: append([]byte(nil), again...), Src: ap("10.0.0.1:5000")}); r != DropSRTPReplay {
		t.Errorf("replay after a re-INVITE with the same keys: %v", r)
	}
	ck2 := genKey(t, srtp.AES128CMSHA1_80)
	cfg.SRTP = &srtp.Keys{Recv: ck2, Send: hk}
	if err := c.SetRemote(Customer, cfg); err != nil {
		t.Fatal(err)
	}
	if _, _, r := c.process(Customer, kindRTP, &Packet{Buf: again, Src: ap("10.0.0.1:5000")}); r != DropSRTPAuth {
		t.Errorf("old key after rekeying: %v", r)
	}
	if _, _, r := c.process(Customer, kindRTP, &Packet{Buf: seal(t, pionCtx(t, ck2), rtpPacket(t, 0, 2, 160)), Src: ap("10.0.0.1:5000")}); r != DropNone {
		t.Errorf("new key: %v", r)
	}
	if err := c.SetRemote(Customer, LegConfig{Remote: ap("10.0.0.1:5000"), SRTP: &srtp.Keys{Recv: srtp.Key{}, Send: hk}}); err != nil {
		t.Fatal(err)
	}
}

// srtpFixture: process on an SRTP leg toward an SRTP leg, for allocations and cost.
func srtpFixture(t testing.TB, s srtp.Suite) (c *Call, next func() *Packet) {
	return srtpFixtureOn(t, newAlloc(t, lo4), s)
}

// srtpFixtureOn is srtpFixture with the call's ports from a: a benchmark that needs call
// after call closes each before the next, so its port lease lasts.
func srtpFixtureOn(t testing.TB, a *PortAllocator, s srtp.Suite) (c *Call, next func() *Packet) {
	ck := genKey(t, s)
	c, err := NewCall(a, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("10.0.0.1:5000"), SRTP: &srtp.Keys{Recv: ck, Send: genKey(t, s)}},
		Agent:    LegConfig{Remote: ap("10.9.9.9:6000"), SRTP: &srtp.Keys{Recv: genKey(t, s), Send: genKey(t, s)}}},
		withTestEngine(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	phone := pionCtx(t, ck)
	plain := rtpPacket(t, 8, 1, 160)
	// Packets sealed ahead, so the loop measures hush alone: a batch at a time, each
	// continuing the sequence numbers of the one before. Nil says the batch is used up;
	// the call after it seals another (a benchmark stops its timer for that call).
	const n = 1 << 12
	encs := make([][]byte, n)
	var seq uint64
	refill := func() {
		for i := range encs {
			plain[2], plain[3] = byte(seq>>8), byte(seq)
			seq++
			encs[i] = seal(t, phone, plain)
		}
	}
	refill()
	work := make([]byte, MaxPacketSize)
	p := &Packet{Src: ap("10.0.0.1:5000")}
	i := 0
	return c, func() *Packet {
		switch i {
		case n:
			i = -1
			return nil
		case -1:
			refill()
			i = 0
		}
		p.Buf = work[:copy(work, encs[i])]
		i++
		return p
	}
}

// TestSRTPProcessAllocs: unprotect, process and protect allocate nothing per packet.
func TestSRTPProcessAllocs(t *testing.T) { forEngines(t, testSRTPProcessAllocsOnEngine) }

func testSRTPProcessAllocsOnEngine(t *testing.T) {
	for _, s := range []srtp.Suite{srtp.AES128CMSHA1_80, srtp.AEADAES128GCM} {
		c, next := srtpFixture(t, s)
		var buf []byte
		one := func() {
			p := next()
			_, _, r := c.process(Customer, kindRTP, p)
			if r != DropNone {
				t.Fatal(r)
			}
			var out []byte
			if out, buf, r = protect(p.seal, false, p.Buf, buf); r != DropNone || len(out) != len(p.Buf)+s.RTPTrailer() {
				t.Fatal(r)
			}
		}
		one()
		if n := testing.AllocsPerRun(1000, one); n != 0 {
			t.Errorf("%v: %v allocations per packet", s, n)
		}
	}
}

// TestSRTPForwardAllocs counts allocations of the whole SRTP-to-SRTP path through real
// sockets, as TestForwardAllocs does for plain RTP.
func TestSRTPForwardAllocs(t *testing.T) { forEngines(t, testSRTPForwardAllocsOnEngine) }

func testSRTPForwardAllocsOnEngine(t *testing.T) {
	e := newSRTPEnv(t, srtp.AES128CMSHA1_80, true)
	plain := rtpPacket(t, 0, 1, 160)
	const n = 600
	encs := make([][]byte, n)
	for i := range encs {
		plain[2], plain[3] = byte(i>>8), byte(i)
		encs[i] = seal(t, e.custTx, plain)
	}
	buf := make([]byte, 2048)
	if err := e.agent.s.RTP.SetReadDeadline(timeNowPlusMinute()); err != nil {
		t.Fatal(err)
	}
	i := 0
	one := func() {
		if _, err := e.cust.s.RTP.WriteToUDPAddrPort(encs[i], e.c.LocalRTP(Customer)); err != nil {
			t.Fatal(err)
		}
		i++
		if k, _, err := e.agent.s.RTP.ReadFromUDPAddrPort(buf); err != nil || k != len(plain)+10 {
			t.Fatalf("receive: %d %v", k, err)
		}
	}
	for range 10 {
		one()
	}
	if a := testing.AllocsPerRun(500, one); a != 0 {
		t.Fatalf("%v allocations per forwarded SRTP packet", a)
	}
}

// BenchmarkProcessSRTP is BenchmarkProcess with SRTP on both legs: unprotect, process and
// protect (the plain path's figure is BenchmarkProcess's).
func BenchmarkProcessSRTP(b *testing.B) {
	for _, s := range []srtp.Suite{srtp.AES128CMSHA1_80, srtp.AES128CMSHA1_32, srtp.AEADAES128GCM, srtp.AEADAES256GCM} {
		b.Run(s.String(), func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			a := newAlloc(b, lo4)
			c, next := srtpFixtureOn(b, a, s)
			for b.Loop() {
				p := next()
				if p == nil {
					b.StopTimer()
					p = next() // the next batch, sealed untimed
					b.StartTimer()
				}
				_, _, r := c.process(Customer, kindRTP, p)
				if r != DropNone {
					b.Fatal(r)
				}
				if _, buf, r = protect(p.seal, false, p.Buf, buf); r != DropNone {
					b.Fatal(r)
				}
			}
		})
	}
}

// FuzzProcessSRTP: arbitrary datagrams on an SRTP leg never panic and are never
// forwarded unless they authenticate.
func FuzzProcessSRTP(f *testing.F) {
	useEngine(f, udpio.Portable) // process does no I/O: any engine will do
	ck := genKey(f, srtp.AES128CMSHA1_80)
	phone := pionCtx(f, ck)
	f.Add(seal(f, phone, rtpPacket(f, 0, 1, 20)), uint8(0))
	enc, _ := phone.EncryptRTCP(nil, rtcpRR(1), nil)
	f.Add(enc, uint8(1))
	f.Add([]byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(0))
	c := unstartedCall(f, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("10.0.0.1:5000"), RTCPMux: true, SRTP: &srtp.Keys{Recv: ck, Send: genKey(f, srtp.AES128CMSHA1_80)}},
		Agent:    LegConfig{Remote: ap("10.9.9.9:6000"), RTCPMux: true}})
	f.Fuzz(func(t *testing.T, buf []byte, sel uint8) {
		orig := append([]byte(nil), buf...)
		p := &Packet{Buf: buf, Src: ap("10.0.0.1:5000")}
		_, _, r := c.process(Customer, sockKind(sel&1), p)
		if r != DropNone {
			return
		}
		var err error
		if p.RTCP {
			_, err = pionCtx(t, ck, psrtp.SRTCPNoReplayProtection()).DecryptRTCP(nil, orig, nil)
		} else {
			_, err = pionCtx(t, ck).DecryptRTP(nil, orig, nil)
		}
		if err != nil {
			t.Fatalf("forwarded a packet that does not authenticate: %v", err)
		}
		var h rtp.Header
		if !p.RTCP {
			if _, err := h.Unmarshal(p.Buf); err != nil {
				t.Fatal("invalid RTP forwarded")
			}
		}
	})
}

func timeNowPlusMinute() time.Time { return time.Now().Add(time.Minute) }

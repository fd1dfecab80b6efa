package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/relay/relaytest"
	"github.com/hushmedia/hush/media/srtp"
)

// TestHushBehindRtpengineSDES: rtpengine is the far end of hush's SRTP leg. A plain phone
// calls through rtpengine, which encrypts toward hush (transport-protocol RTP/SAVP, its own
// SDES keys); hush decrypts, masks the customer's key presses and relays plain RTP to the
// agent (transport-protocol RTP/AVP), and encrypts the agent's audio with its own key,
// which rtpengine decrypts for the phone. Every offer and answer goes over ng, as Kamailio
// would send them to each relay in turn. multimon-ng judges what the agent hears
// (HUSHLOAD_RTPENGINE=1; needs rtpengine-daemon and multimon-ng).
func TestHushBehindRtpengineSDES(t *testing.T) {
	rbin := rtpengineBin(t)
	dtmftest.Tool(t, "multimon-ng", "multimon-ng")
	hbin := buildHushd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rng, err := FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := relaytest.Ports(t, 200)
	rp, err := StartRtpengine(ctx, rbin, rng, lo, lo+99, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Stop()
	hng, err := FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	hngAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(hng))
	var log bytes.Buffer
	hp, err := StartHushd(ctx, hbin, lo+100, hi, []string{"--ng-enabled", "--ng-listen", hngAddr.String()}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer hp.Stop()
	rtpe, hush := NewRtpengine(netip.MustParseAddrPort(rp.Addr), rp.PID()), NewNG("hush", hngAddr, hp.PID())

	for i, suite := range []srtp.Suite{srtp.AES128CMSHA1_80, srtp.AES128CMSHA1_32, srtp.AEADAES256GCM} {
		t.Run(suite.String(), func(t *testing.T) {
			phone, agent := listen(t), listen(t)
			callID := "interop-" + suite.String()
			ng := func(r *Rtpengine, cmd map[string]any) string {
				t.Helper()
				cmd["call-id"], cmd["from-tag"] = callID, "caller"
				out, err := r.Command(ctx, cmd)
				if err != nil {
					t.Fatalf("%s %s: %v", r.Name(), cmd["command"], err)
				}
				return out["sdp"].(string)
			}
			// The phone's plain offer -> rtpengine (SRTP toward hush, one suite) -> hush
			// (plain toward the agent).
			toHush := ng(rtpe, map[string]any{"command": "offer", "sdp": audioSDP(addrOf(phone)),
				"transport-protocol": "RTP/SAVP", "SDES": []any{"only-" + suite.String()}, "flags": []any{"trust-address"}})
			if !strings.Contains(toHush, "a=crypto:") || !strings.Contains(toHush, suite.String()) {
				t.Fatalf("rtpengine's offer:\n%s", toHush)
			}
			toAgent := ng(hush, map[string]any{"command": "offer", "sdp": toHush, "transport-protocol": "RTP/AVP"})
			if strings.Contains(toAgent, "a=crypto") {
				t.Fatalf("hush's offer to the plain agent:\n%s", toAgent)
			}
			// The agent's plain answer -> hush (SRTP, hush's key) -> rtpengine (plain).
			toRtpe := ng(hush, map[string]any{"command": "answer", "to-tag": "callee", "sdp": audioSDP(addrOf(agent))})
			toPhone := ng(rtpe, map[string]any{"command": "answer", "to-tag": "callee", "sdp": toRtpe, "flags": []any{"trust-address"}})
			agentIn, phoneIn := mediaAddr(t, toAgent), mediaAddr(t, toPhone)

			// 3 s of quiet audio from the phone with two keys in it; the agent talks back.
			const n = 150 * samplesPerPacket
			sig := make([]float64, n)
			r := rand.New(rand.NewPCG(uint64(i), 5))
			for k, key := range []byte{'5', '#'} {
				dtmftest.Burst{Key: key, At: (40 + 60*k) * samplesPerPacket, Dur: 800, DBm0: -10}.AddTo(sig, r)
			}
			pcm := dtmftest.Quantize(sig)
			fromPhone, fromAgent := g711Packets(pcm, 0x1111+uint32(i)), g711Packets(make([]int16, n), 0x2222+uint32(i))
			got := exchange(t, phone, agent, phoneIn, agentIn, fromPhone, fromAgent)
			if len(got[0]) < len(fromPhone)-2 || len(got[1]) < len(fromAgent)-2 {
				t.Fatalf("the agent got %d of %d packets, the phone %d of %d\n%s", len(got[0]), len(fromPhone), len(got[1]), len(fromAgent), log.String())
			}
			for _, p := range got[1] { // agent -> phone is not masked: payloads arrive intact
				if !bytes.Equal(p[12:], fromAgent[0][12:]) {
					t.Fatal("the agent's audio reached the phone altered")
				}
			}
			if in := dtmftest.Judge(t, t.TempDir(), "in", pcm); in != "5#" {
				t.Fatalf("multimon-ng finds %q in the phone's audio", in)
			}
			if heard := dtmftest.Judge(t, t.TempDir(), "agent", decodeAll(got[0], n)); heard != "" {
				t.Errorf("multimon-ng finds %d keys in what the agent heard", len(heard))
			}
		})
	}
}

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mediaAddr(t *testing.T, body string) netip.AddrPort {
	t.Helper()
	d, err := sdp.Parse([]byte(body))
	if err != nil || len(d.Media) == 0 {
		t.Fatalf("%v\n%s", err, body)
	}
	return d.Media[0].Remote()
}

// g711Packets packetizes pcm as PCMU at 20 ms.
func g711Packets(pcm []int16, ssrc uint32) [][]byte {
	var out [][]byte
	for k := 0; (k+1)*samplesPerPacket <= len(pcm); k++ {
		b := make([]byte, packetLen)
		b[0] = 0x80
		binary.BigEndian.PutUint16(b[2:], uint16(k))
		binary.BigEndian.PutUint32(b[4:], uint32(k*samplesPerPacket))
		binary.BigEndian.PutUint32(b[8:], ssrc)
		g711.EncodeUlaw(b[12:], pcm[k*samplesPerPacket:(k+1)*samplesPerPacket])
		out = append(out, b)
	}
	return out
}

// decodeAll places received PCMU packets on the timeline by RTP timestamp.
func decodeAll(pkts [][]byte, n int) []int16 {
	out := make([]int16, n)
	for _, p := range pkts {
		at := int(binary.BigEndian.Uint32(p[4:]))
		if len(p) == packetLen && at+samplesPerPacket <= n {
			g711.DecodeUlaw(out[at:], p[12:])
		}
	}
	return out
}

// exchange sends both streams at 20 ms pacing and collects what each side receives
// (index 0: at the agent, 1: at the phone) until a second after the last send.
func exchange(t *testing.T, phone, agent *net.UDPConn, phoneIn, agentIn netip.AddrPort, fromPhone, fromAgent [][]byte) [2][][]byte {
	t.Helper()
	var got [2][][]byte
	done := make(chan struct{}, 2)
	end := time.Now().Add(time.Duration(len(fromPhone))*period + 2*time.Second)
	for k, c := range []*net.UDPConn{agent, phone} {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = c.SetReadDeadline(end)
			buf := make([]byte, 2048)
			for range 10000 {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				got[k] = append(got[k], append([]byte(nil), buf[:n]...))
			}
		}()
	}
	tk := time.NewTicker(period)
	for k := range fromPhone {
		<-tk.C
		if _, err := phone.WriteToUDPAddrPort(fromPhone[k], phoneIn); err != nil {
			t.Fatal(err)
		}
		if _, err := agent.WriteToUDPAddrPort(fromAgent[k], agentIn); err != nil {
			t.Fatal(err)
		}
	}
	tk.Stop()
	<-done
	<-done
	return got
}

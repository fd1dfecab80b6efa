package loadgen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/ng"
	"github.com/hushmedia/hush/media/relay/relaytest"
)

func TestSDPMediaAddr(t *testing.T) {
	ap := netip.MustParseAddrPort("127.0.0.1:40002")
	got, err := sdpMediaAddr(audioSDP(ap))
	if err != nil || got != ap {
		t.Fatalf("%v %v", got, err)
	}
	// A media-level c= overrides the session's; a video section before audio is skipped.
	sdp := "v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 192.0.2.9\r\nm=audio 6000 RTP/AVP 0\r\nc=IN IP6 ::1\r\nm=audio 7000 RTP/AVP 0\r\nc=IN IP4 192.0.2.7\r\n"
	got, err = sdpMediaAddr(sdp)
	if err != nil || got != netip.MustParseAddrPort("[::1]:6000") {
		t.Fatalf("%v %v", got, err)
	}
	got, err = sdpMediaAddr("v=0\nc=IN IP4 192.0.2.1/127\nm=audio 6000/2 RTP/AVP 0\n")
	if err != nil || got != netip.MustParseAddrPort("192.0.2.1:6000") {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []any{nil, 5, "", "v=0\r\n", "c=IN IP4 1.2.3.4\r\nm=audio\r\n", "c=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n",
		"c=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n", "c=IN IP4 host.example\r\nm=audio 5 RTP/AVP 0\r\n",
		"c=IN\r\nm=audio 5 RTP/AVP 0\r\n", "m=audio 5 RTP/AVP 0\r\n"} {
		if _, err := sdpMediaAddr(bad); !errors.Is(err, ErrSDP) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzSDPMediaAddr(f *testing.F) {
	f.Add(audioSDP(netip.MustParseAddrPort("127.0.0.1:4000")))
	f.Add("c=IN IP6 ::1\nm=audio 1/2 RTP/AVP 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := sdpMediaAddr(s)
		if err != nil && !errors.Is(err, ErrSDP) {
			t.Fatal(err)
		}
		if err == nil && (!ap.IsValid() || ap.Port() == 0) {
			t.Fatalf("%v", ap)
		}
	})
}

func TestParseNGReply(t *testing.T) {
	d, ok, err := parseNGReply([]byte("ab d6:result2:ok3:sdp3:v=0e"), "ab")
	if !ok || err != nil || d["sdp"] != "v=0" {
		t.Fatalf("%v %v %v", d, ok, err)
	}
	if _, ok, _ := parseNGReply([]byte("xy d6:result2:oke"), "ab"); ok {
		t.Fatal("foreign cookie accepted")
	}
	for _, bad := range []string{"ab d6:result5:error12:error-reason3:bade", "ab i1e", "ab d6:result", "ab le"} {
		if _, ok, err := parseNGReply([]byte(bad), "ab"); !ok || !errors.Is(err, ErrNG) {
			t.Errorf("%q: %v %v", bad, ok, err)
		}
	}
}

// fakeNG answers ng commands like rtpengine does, allocating ports from base.
func fakeNG(t *testing.T) netip.AddrPort {
	ap, _ := fakeNGLog(t)
	return ap
}

// fakeNGLog is fakeNG that also returns the commands it received, in order.
func fakeNGLog(t *testing.T) (netip.AddrPort, func() []map[string]any) {
	var mu sync.Mutex
	var log []map[string]any
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		port := 41000
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			ck, body, _ := cutSpace(buf[:n])
			v, err := ng.DecodeBencode(body)
			d, _ := v.(map[string]any)
			if d != nil {
				mu.Lock()
				log = append(log, d)
				mu.Unlock()
			}
			reply := map[string]any{"result": "ok"}
			switch {
			case err != nil || d == nil:
				reply = map[string]any{"result": "error", "error-reason": "bad"}
			case d["command"] == "offer" || d["command"] == "answer":
				port += 2
				reply["sdp"] = audioSDP(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
			case d["command"] == "ping":
				reply["result"] = "pong"
			case d["command"] == "delete", d["command"] == "block DTMF":
			default:
				reply = map[string]any{"result": "error", "error-reason": "Unrecognized command"}
			}
			out, _ := ng.AppendBencode(append(ck, ' '), reply)
			_, _ = c.WriteToUDPAddrPort(out, from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(log)
	}
}

func cutSpace(b []byte) ([]byte, []byte, bool) {
	for i, c := range b {
		if c == ' ' {
			return append([]byte(nil), b[:i]...), b[i+1:], true
		}
	}
	return nil, nil, false
}

func TestRtpengineTargetAgainstFakeNG(t *testing.T) {
	r := NewRtpengine(fakeNG(t), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := r.CreateCall(ctx, 1, netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("127.0.0.1:5002"))
	if err != nil {
		t.Fatal(err)
	}
	// The offer's reply is where the agent sends, the answer's where the customer sends.
	if c.AgentIn.Port() != 41002 || c.CustomerIn.Port() != 41004 {
		t.Fatalf("%+v", c)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Command(ctx, map[string]any{"command": "ping"}); err != nil || rep["result"] != "pong" {
		t.Fatalf("ping: %v %v", rep, err)
	}
	if _, err := r.Command(ctx, map[string]any{"command": "bogus"}); !errors.Is(err, ErrNG) {
		t.Fatalf("bogus command: %v", err)
	}
}

// TestRtpengineBlockDTMF: on rtpengine's masking path every call gets, after offer and
// answer, one "block DTMF" per masked direction, naming the party whose DTMF is blocked,
// with DTMF-security, in-band detection and a delay buffer of the look-ahead.
func TestRtpengineBlockDTMF(t *testing.T) {
	ap, log := fakeNGLog(t)
	r := NewNG("rtpengine-mask", ap, 0)
	r.SetBlockDTMF(BlockDTMF{Mode: "tone", Delay: 60 * time.Millisecond, Dirs: [2]bool{false, true}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.CreateCall(ctx, 1, netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("127.0.0.1:5002")); err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, d := range log() {
		cmds = append(cmds, d["command"].(string))
	}
	if !slices.Equal(cmds, []string{"offer", "answer", "block DTMF"}) {
		t.Fatalf("commands %q", cmds)
	}
	b := log()[2]
	flags, _ := b["flags"].([]any)
	if b["from-tag"] != "agent" || b["DTMF-security"] != "tone" || b["delay-buffer"] != int64(60) ||
		len(flags) != 1 || flags[0] != "detect DTMF" {
		t.Fatalf("block DTMF %v", b)
	}
}

// rtpengineBin finds rtpengine for the opt-in test against a real one. make test does not
// need rtpengine (make bench-compare does), so the test runs with HUSHLOAD_RTPENGINE=1;
// then a missing rtpengine skips naming the Debian package, or fails with CI=true.
func rtpengineBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs rtpengine; skipped with -short")
	}
	if os.Getenv("HUSHLOAD_RTPENGINE") != "1" {
		t.Skip("against a real rtpengine: set HUSHLOAD_RTPENGINE=1 (needs Debian package rtpengine-daemon)")
	}
	bin, err := exec.LookPath("rtpengine")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rtpengine not installed (Debian package rtpengine-daemon)")
		}
		t.Skip("rtpengine not installed (Debian package rtpengine-daemon)")
	}
	return bin
}

// TestRunRtpengine: the same short load through a real rtpengine loses nothing.
func TestRunRtpengine(t *testing.T) {
	bin := rtpengineBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ng, err := FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := relaytest.Ports(t, 1000)
	p, err := StartRtpengine(ctx, bin, ng, lo, hi, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	r := NewRtpengine(netip.MustParseAddrPort(p.Addr), p.PID())
	res, err := Run(ctx, r, Config{Calls: 5, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Received != res.Sent || res.Foreign+res.Misrouted+res.Rewritten != 0 {
		t.Fatalf("sent %d received %d lost %d foreign %d misrouted %d rewritten %d", res.Sent, res.Received, res.Lost,
			res.Foreign, res.Misrouted, res.Rewritten)
	}
	if res.LatencyP99 <= 0 || res.RSSIdle <= 0 {
		t.Fatalf("p99 %v rss %d", res.LatencyP99, res.RSSIdle)
	}
}

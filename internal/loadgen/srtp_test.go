package loadgen

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/relay/relaytest"
	"github.com/hushmedia/hush/media/srtp"
)

// checkSRTPRun: nothing lost, everything authenticated, every payload intact but where a
// masked direction's notch took the DTMF bands out of the load's noise (notched: samples
// hushd counted in hush_notched_seconds_total so far; each rewritten packet is one or more).
func checkSRTPRun(t *testing.T, res *Result, calls, periods int, notched float64) {
	t.Helper()
	var tab bytes.Buffer
	_ = WriteTable(&tab, res)
	t.Logf("\n%s", tab.String())
	if res.SRTP == "" || res.Lost != 0 || res.Received != res.Sent || res.Sent != uint64(calls*2*periods) || res.SendErrors != 0 {
		t.Fatalf("srtp %q sent %d received %d lost %d send errors %d", res.SRTP, res.Sent, res.Received, res.Lost, res.SendErrors)
	}
	if res.SRTPFailed+res.Foreign+res.Misrouted != 0 || float64(res.Rewritten) > notched+0.5 {
		t.Fatalf("srtp failed %d foreign %d misrouted %d rewritten %d (%.0f samples notched)",
			res.SRTPFailed, res.Foreign, res.Misrouted, res.Rewritten, notched)
	}
}

// TestRunHushdSRTP: the load with SDES-SRTP on both legs through a real hushd, set up over
// gRPC (keys in Leg.srtp) and over its ng listener (a=crypto negotiated): hush decrypts and
// re-encrypts every packet, nothing is lost and every packet authenticates at the
// generator.
func TestRunHushdSRTP(t *testing.T) {
	bin := buildHushd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ngPort, err := FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := relaytest.Ports(t, 100)
	var log bytes.Buffer
	p, err := StartHushd(ctx, bin, lo, hi, []string{"--ng-enabled", "--ng-listen", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ngPort)).String()}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer p.Stop()
	h, err := NewHush(p.Addr, p.PID())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetMetricsAddr(p.HTTP)
	res, err := Run(ctx, h, Config{Calls: 4, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, SRTP: srtp.AES128CMSHA1_80})
	if err != nil {
		t.Fatal(err)
	}
	checkSRTPRun(t, res, 4, 100, notchedSeconds(t, p.HTTP)*8000)
	ng := NewHushNG(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ngPort)), h)
	res, err = Run(ctx, ng, Config{Calls: 4, Duration: time.Second, Warmup: 200 * time.Millisecond, SRTP: srtp.AEADAES128GCM})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	checkSRTPRun(t, res, 4, 50, notchedSeconds(t, p.HTTP)*8000)
	if _, err := Run(ctx, Direct{}, Config{Calls: 2, Duration: time.Second, Warmup: 200 * time.Millisecond, SRTP: srtp.AES128CMSHA1_32}); err != nil {
		t.Fatal(err)
	}
}

// TestRunRtpengineSRTP: the same through a real rtpengine doing SDES-SRTP on both sides:
// hushload's keys and rtpengine's interoperate (HUSHLOAD_RTPENGINE=1).
func TestRunRtpengineSRTP(t *testing.T) {
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
	for _, s := range []srtp.Suite{srtp.AES128CMSHA1_80, srtp.AEADAES128GCM} {
		res, err := Run(ctx, r, Config{Calls: 3, Duration: time.Second, Warmup: 200 * time.Millisecond, SRTP: s})
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		checkSRTPRun(t, res, 3, 50, 0)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/ng"
)

// BenchmarkNGOfferAnswer is the ng offer+answer round trip against a real hushd on
// loopback, as Kamailio sees it: UDP, bencode, the session with its relay sockets, and
// the rewritten SDP back. Each call is deleted afterwards (not timed); reported per call.
func BenchmarkNGOfferAnswer(b *testing.B) {
	lo, hi := mediaRange(b, 400)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readyc, done := make(chan ready, 1), make(chan error, 1)
	args := []string{"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--ng-enabled", "--ng-listen", "127.0.0.1:0",
		"--ng-rate-limit", "0", "--media-port-min", strconv.Itoa(lo), "--media-port-max", strconv.Itoa(hi),
		"--recording-enabled=false", "--session-drain-timeout", "0s", "--log-level", "error",
		"--audit-file", filepath.Join(b.TempDir(), "audit.jsonl")}
	go func() {
		done <- run(ctx, args, nil, io.Discard, io.Discard, readyc)
	}()
	var r ready
	select {
	case r = <-readyc:
	case err := <-done:
		b.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(r.NG)))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 65536)
	n := 0
	call := func(d map[string]any) {
		n++
		msg, _ := ng.AppendMessage(nil, strconv.Itoa(n), d)
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := c.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		if _, out, err := ng.ParseMessage(buf[:k]); err != nil || out["result"] != "ok" {
			b.Fatalf("%v %v", out, err)
		}
	}
	caller, callee := netip.MustParseAddrPort("127.0.0.1:4000"), netip.MustParseAddrPort("127.0.0.1:5000")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprint("bench-", i)
		call(map[string]any{"command": "offer", "call-id": id, "from-tag": "a", "sdp": sdpFor(caller), "flags": []any{"trust-address"}})
		call(map[string]any{"command": "answer", "call-id": id, "from-tag": "a", "to-tag": "b", "sdp": sdpFor(callee)})
		b.StopTimer()
		call(map[string]any{"command": "delete", "call-id": id})
		b.StartTimer()
	}
	b.StopTimer()
	cancel()
	<-done
}

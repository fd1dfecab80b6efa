package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/internal/cluster/redistest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// benchNode is an in-process hushd for benchmarks (the harness's daemon is for tests).
func benchNode(b *testing.B, args ...string) hushv1.SessionServiceClient {
	b.Helper()
	lo, hi := mediaRange(b, 300)
	base := []string{"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", itoa(lo), "--media-port-max", itoa(hi), "--recording-enabled=false",
		"--session-drain-timeout", "0s", "--auth-rate-limit", "0", "--log-level", "error",
		"--audit-file", filepath.Join(b.TempDir(), "audit.jsonl")}
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan ready, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, append(base, args...), nil, io.Discard, io.Discard, readyc) }()
	var rd ready
	select {
	case rd = <-readyc:
	case err := <-done:
		b.Fatalf("hushd exited: %v", err)
	case <-time.After(wait):
		b.Fatal("hushd not ready")
	}
	cc, err := grpc.NewClient(rd.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close(); cancel(); <-done })
	return hushv1.NewSessionServiceClient(cc)
}

// BenchmarkClusterControl compares control-plane throughput on the node that runs a call
// with the same requests through another node, which forwards them over the peer
// listener: a read (GetSession) and a change written to the session directory before the
// answer (StartSecureCapture, StopSecureCapture alternately; each waits for its Redis
// write). Parallel clients (-cpu sets how many goroutines per CPU). Run:
//
//	go test -run '^$' -bench ClusterControl -benchtime 3s ./cmd/hushd
func BenchmarkClusterControl(b *testing.B) {
	rs := redistest.Start(b)
	prefix := "bench" + itoa(int(time.Now().UnixNano()%1e9))
	cl := func(name string) []string {
		return []string{"--cluster-redis-addr", rs.Addr, "--cluster-key-prefix", prefix, "--cluster-node-id", name,
			"--cluster-listen", "127.0.0.1:0"}
	}
	owner := benchNode(b, cl("owner")...)
	edge := benchNode(b, cl("edge")...)
	ctx := context.Background()
	var ids []string
	for i := range 64 {
		s, err := owner.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "bench-" + itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, s.SessionId)
	}
	for _, via := range []struct {
		name string
		c    hushv1.SessionServiceClient
	}{{"local", owner}, {"forwarded", edge}} {
		b.Run("get/"+via.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := via.c.GetSession(ctx, &hushv1.GetSessionRequest{SessionId: ids[i%len(ids)]}); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
		b.Run("capture/"+via.name, func(b *testing.B) {
			var next chan int = make(chan int, len(ids))
			for i := range ids {
				next <- i
			}
			b.RunParallel(func(pb *testing.PB) {
				i := <-next // one session per goroutine: each change is the session's own
				on := false
				for pb.Next() {
					var err error
					if on {
						_, err = via.c.StopSecureCapture(ctx, &hushv1.StopSecureCaptureRequest{SessionId: ids[i]})
					} else {
						_, err = via.c.StartSecureCapture(ctx, &hushv1.StartSecureCaptureRequest{SessionId: ids[i]})
					}
					if err != nil {
						b.Error(err)
						return
					}
					on = !on
				}
				next <- i
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

package relay

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/udpio"
)

// testEngine serves the Calls the tests build (newCall, unstartedCall): set by
// forEngines for the subtest it runs, nil outside one, where building a Call panics (a
// test that builds Calls must run on every engine).
var testEngine udpio.Engine

// engines are the package's engines, one per kind, made on first use and closed by
// TestMain.
var engines = map[string]udpio.Engine{}

func withTestEngine(opts []Option) []Option {
	if testEngine == nil {
		panic("relay tests: a Call built outside forEngines")
	}
	return append([]Option{WithEngine(testEngine)}, opts...)
}

// engineKinds are the engines the suite runs on: all of them, or HUSH_RELAY_ENGINES
// (comma-separated).
func engineKinds() []string {
	if v := os.Getenv("HUSH_RELAY_ENGINES"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{udpio.Portable, udpio.Epoll, udpio.IOURing}
}

// sharedEngine returns the package's engine of kind k, making it on first use. An
// engine the kernel refuses skips the test with the reason: the portable engine still
// covers the pipeline.
func sharedEngine(tb testing.TB, k string) udpio.Engine {
	tb.Helper()
	if e := engines[k]; e != nil {
		return e
	}
	e, err := udpio.New(k, udpio.Options{Workers: 2})
	if errors.Is(err, udpio.ErrUnavailable) {
		tb.Skipf("engine %s: %v", k, err)
	}
	if err != nil {
		tb.Fatalf("engine %s: %v", k, err)
	}
	engines[k] = e
	return e
}

// useEngine makes tb's Calls run on the engine of kind k until tb ends.
func useEngine(tb testing.TB, k string) {
	tb.Helper()
	testEngine = sharedEngine(tb, k)
	tb.Cleanup(func() { testEngine = nil })
}

// forEngines runs f once per engine, as a subtest named after it, so that a failure
// names the engine. The relay's tests do not run in parallel: one testEngine at a time.
func forEngines(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, k := range engineKinds() {
		t.Run(k, func(t *testing.T) {
			useEngine(t, k)
			f(t)
		})
	}
}

// TestMain closes the shared engines after the tests. With -bench the benchmarks'
// Calls run on the portable engine: the engine benchmarks compare the engines as
// sub-benchmarks.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		e, err := udpio.New(udpio.Portable, udpio.Options{Workers: 2})
		if err != nil {
			fmt.Fprintf(os.Stderr, "relay benchmarks: engine %s: %v\n", udpio.Portable, err)
			os.Exit(1)
		}
		engines[udpio.Portable], testEngine = e, e
	}
	code := m.Run()
	for k, e := range engines {
		if err := e.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "relay tests: closing engine %s: %v\n", k, err)
			code = 1
		}
	}
	os.Exit(code)
}

// forEngine runs f as a sub-benchmark per engine that works here.
// epoll-nolinger is the epoll engine with Linger off: a sender that waits
// for replies (these benchmarks) throttles itself against a lingering
// worker, which is meant for many independent senders (cmd/hushload).
func forEngine(b *testing.B, f func(b *testing.B, e udpio.Engine)) {
	for _, v := range []struct {
		name, kind string
		opts       udpio.Options
	}{
		{udpio.Portable, udpio.Portable, udpio.Options{}},
		{udpio.Epoll, udpio.Epoll, udpio.Options{}},
		{"epoll-nolinger", udpio.Epoll, udpio.Options{Linger: -1}},
		{udpio.IOURing, udpio.IOURing, udpio.Options{}},
		{"io_uring-nolinger", udpio.IOURing, udpio.Options{Linger: -1}},
	} {
		k := v.kind
		b.Run(v.name, func(b *testing.B) {
			e, err := udpio.New(k, v.opts)
			if errors.Is(err, udpio.ErrUnavailable) {
				b.Skipf("engine %s: %v", k, err)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			f(b, e)
		})
	}
}

// BenchmarkEngineForward is BenchmarkForwardRTP (16 in flight) per engine;
// allocs/op is per forwarded packet and must be 0.
func BenchmarkEngineForward(b *testing.B) {
	forEngine(b, func(b *testing.B, e udpio.Engine) {
		r := newForwardRig(b, WithEngine(e))
		const window = 16
		b.ReportAllocs()
		inFlight := 0
		for b.Loop() {
			r.send(b)
			if inFlight++; inFlight == window {
				r.recv(b)
				inFlight--
			}
		}
		for ; inFlight > 0; inFlight-- {
			r.recv(b)
		}
	})
}

// BenchmarkEngineLockstep is one packet in flight per engine: ns/op is the
// round trip through the relay.
func BenchmarkEngineLockstep(b *testing.B) {
	forEngine(b, func(b *testing.B, e udpio.Engine) {
		r := newForwardRig(b, WithEngine(e))
		b.ReportAllocs()
		for b.Loop() {
			r.send(b)
			r.recv(b)
		}
	})
}

// TestEngineClosedFirst closes an engine that still serves a call under
// traffic: the call stops being served, and its Close returns and frees
// the ports instead of waiting for a worker that is gone.
func TestEngineClosedFirst(t *testing.T) {
	for _, k := range []string{udpio.Portable, udpio.Epoll, udpio.IOURing} {
		t.Run(k, func(t *testing.T) {
			eng, err := udpio.New(k, udpio.Options{Workers: 1})
			if errors.Is(err, udpio.ErrUnavailable) {
				t.Skipf("engine %s: %v", k, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, lo4, true, true)
			c, err := NewCall(e.alloc, e.explicit(), WithEngine(eng))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			pkt := rtpPacket(t, 8, 1, 160)
			send(t, e.a.s.RTP, c.LocalRTP(Customer), pkt)
			expect(t, e.b.s.RTP, pkt, c.LocalRTP(Agent))
			for range 50 {
				send(t, e.a.s.RTP, c.LocalRTP(Customer), pkt)
			}
			if err := eng.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if n := e.alloc.InUse(); n != 0 {
				t.Fatalf("%d port pairs still in use", n)
			}
		})
	}
}

// TestEngineAutoFallsBack: auto always yields a working engine, and an
// attached call forwards through it.
func TestEngineAutoFallsBack(t *testing.T) {
	eng, err := udpio.New(udpio.Auto, udpio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	t.Logf("auto runs as %s", eng.Name())
	testEngine = eng
	t.Cleanup(func() { testEngine = nil })
	e := newEnv(t, lo4, true, true)
	c := e.start(e.explicit())
	pkt := rtpPacket(t, 0, 7, 160)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), pkt)
	expect(t, e.b.s.RTP, pkt, c.LocalRTP(Agent))
}

package connlimit

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// server accepts on a capped listener and records what it was handed.
type server struct {
	ln      *Listener
	mu      sync.Mutex
	refused map[string]int
	conns   chan net.Conn
}

func start(t *testing.T, o Options) *server {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{refused: map[string]int{}, conns: make(chan net.Conn, 100)}
	o.OnRefused = func(r string) { s.mu.Lock(); s.refused[r]++; s.mu.Unlock() }
	s.ln = New(raw, o)
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				close(s.conns)
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() { s.ln.Close() })
	return s
}

// dial connects from local IP from and reports whether the server kept the connection:
// a refused one is closed by the server (the client reads EOF), a kept one is handed to
// Accept's caller.
func (s *server) dial(t *testing.T, from string) (client net.Conn, kept net.Conn) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Skipf("cannot dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	// Whichever comes first: the server's close (EOF) or the connection handed over.
	eof := make(chan struct{})
	go func() {
		var b [1]byte
		if _, err := c.Read(b[:]); errors.Is(err, io.EOF) || err != nil {
			close(eof)
		}
	}()
	select {
	case k := <-s.conns:
		return c, k
	case <-eof:
		return c, nil
	case <-time.After(5 * time.Second):
		t.Fatal("connection neither handed over nor closed")
	}
	return nil, nil
}

func (s *server) count(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[reason]
}

func TestTotalAndPerIPCaps(t *testing.T) {
	opens := 0
	var mu sync.Mutex
	s := start(t, Options{Max: 3, PerIP: 2, OnOpen: func(d int) { mu.Lock(); opens += d; mu.Unlock() }})
	_, a1 := s.dial(t, "127.0.0.1")
	_, a2 := s.dial(t, "127.0.0.1")
	if a1 == nil || a2 == nil {
		t.Fatal("connections under the caps refused")
	}
	if _, k := s.dial(t, "127.0.0.1"); k != nil || s.count(ReasonPerIP) != 1 {
		t.Fatalf("third from one address: kept=%v, per_ip refusals %d", k != nil, s.count(ReasonPerIP))
	}
	_, b1 := s.dial(t, "127.0.0.2")
	if b1 == nil {
		t.Fatal("another address refused under the total cap")
	}
	if _, k := s.dial(t, "127.0.0.3"); k != nil || s.count(ReasonTotal) != 1 {
		t.Fatalf("over the total: kept=%v, total refusals %d", k != nil, s.count(ReasonTotal))
	}
	if s.ln.Open() != 3 {
		t.Errorf("Open() = %d, want 3", s.ln.Open())
	}
	// Closing frees the place, once however often it is closed.
	a1.Close()
	a1.Close()
	if s.ln.Open() != 2 {
		t.Errorf("after a close: Open() = %d, want 2", s.ln.Open())
	}
	if _, k := s.dial(t, "127.0.0.1"); k == nil {
		t.Error("a freed place was not reused")
	}
	mu.Lock()
	defer mu.Unlock()
	if opens != 3 {
		t.Errorf("OnOpen sum %d, want 3", opens)
	}
}

// A connection whose descriptor is at or above the line is refused.
func TestDescriptorLine(t *testing.T) {
	s := start(t, Options{FDLine: 1})
	if _, k := s.dial(t, "127.0.0.1"); k != nil || s.count(ReasonDescriptors) != 1 {
		t.Fatalf("over the descriptor line: kept=%v, refusals %d", k != nil, s.count(ReasonDescriptors))
	}
	s2 := start(t, Options{FDLine: 1 << 30})
	if _, k := s2.dial(t, "127.0.0.1"); k == nil {
		t.Fatal("under the descriptor line: refused")
	}
}

func TestRaiseFileLimit(t *testing.T) {
	soft, hard, err := RaiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if soft != hard && hard != 0 {
		t.Errorf("soft limit %d not raised to the hard one %d", soft, hard)
	}
}

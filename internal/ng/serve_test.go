package ng

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// TestServeUDP runs the server on a real loopback socket: concurrent clients, each with
// its own cookies, all answered.
func TestServeUDP(t *testing.T) {
	h := newHarness(t)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, conn) }()
	addr := conn.LocalAddr().(*net.UDPAddr)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := net.DialUDP("udp", nil, addr)
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			buf := make([]byte, maxDatagram)
			for i := range 5 {
				ck := fmt.Sprintf("%d_%d", c, i)
				d := kamailioOffer(fmt.Sprintf("call-%d-%d", c, i), "a", phoneSDP(fmt.Sprintf("192.0.2.%d:%d", 10+c, 4000+2*i)), nil)
				msg, _ := AppendMessage(nil, ck, d)
				if _, err := cl.Write(msg); err != nil {
					errs <- err
					return
				}
				_ = cl.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := cl.Read(buf)
				if err != nil {
					errs <- err
					return
				}
				got, out, err := ParseMessage(buf[:n])
				if err != nil || got != ck || out["result"] != "ok" {
					errs <- fmt.Errorf("reply %q %v %v", got, out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if h.reg.Len() != 40 {
		t.Fatalf("%d sessions", h.reg.Len())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

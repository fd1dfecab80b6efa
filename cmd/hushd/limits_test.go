package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// bigHeader is a header far above the caps (16 KiB by default) and far below gRPC's own
// default (16 MiB). The gRPC call carries it as 64 fields of 4 KiB: a single field over
// the cap would be a connection error rather than a reset of the call.
var bigHeader = strings.Repeat("x", 256<<10)

// TestOversizeHeadersRefusedUnread: a gRPC call whose header list is larger than
// grpc.max_header_bytes is reset (RST_STREAM) without reaching authentication or a
// handler, and hushd advertises the limit in its HTTP/2 SETTINGS; an HTTP request with a
// header larger than http.max_header_bytes gets 431. The gRPC client here is raw HTTP/2,
// since a gRPC client would itself refuse to send what the server's SETTINGS forbid.
func TestOversizeHeadersRefusedUnread(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	c, err := net.DialTimeout("tcp", d.ready.GRPC, wait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * wait))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// The server's SETTINGS come first, before the oversize call: once hushd closes the
	// connection on it, what it sent earlier may be lost with the reset.
	var advertised uint32
	for i := 0; ; i++ {
		f, err := fr.ReadFrame()
		if err != nil || i == 10 {
			t.Fatalf("no SETTINGS from hushd: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			advertised, _ = sf.Value(http2.SettingMaxHeaderListSize)
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if advertised != 16<<10 {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE %d, want 16384", advertised)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", hushv1.SessionService_ListSessions_FullMethodName},
		{":authority", d.ready.GRPC}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < len(bigHeader); i += 4 << 10 {
		if err := enc.WriteField(hpack.HeaderField{Name: "x-big-" + itoa(i), Value: bigHeader[i : i+4<<10]}); err != nil {
			t.Fatal(err)
		}
	}
	block := hb.Bytes()
	const frag = 16 << 10 // the default SETTINGS_MAX_FRAME_SIZE
	// hushd may close the connection while the header block is still being written: a
	// failed write is that refusal (a call whose headers never completed was not handled).
	send := func() error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:frag]}); err != nil {
			return err
		}
		for rest := block[frag:]; len(rest) > 0; {
			n := min(frag, len(rest))
			if err := fr.WriteContinuation(1, n == len(rest), rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}) // an empty request message
	}
	if err := send(); err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatal(err)
	}
	// The call must be refused unread: its stream reset, or, since it exceeds the limit by
	// far, the connection closed (GOAWAY, then close); never answered.
	for i := 0; ; i++ {
		f, err := fr.ReadFrame()
		if err != nil {
			break // closed by the server
		}
		if i == 100 {
			t.Fatal("no answer to the oversize call")
		}
		if hf, ok := f.(*http2.HeadersFrame); ok && hf.StreamID == 1 {
			t.Fatalf("a call with %d KiB of headers was answered (handled), not refused", len(bigHeader)>>10)
		}
		if rf, ok := f.(*http2.RSTStreamFrame); ok && rf.StreamID == 1 {
			break
		}
		if _, ok := f.(*http2.GoAwayFrame); ok {
			break
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.ready.HTTP+"/healthz", nil)
	req.Header.Set("X-Big", bigHeader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("HTTP request with %d KiB of headers: %d, want 431", len(bigHeader)>>10, resp.StatusCode)
	}
	// hushd still serves.
	if _, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{}); err != nil {
		t.Fatal(err)
	}
}

// TestStreamCapPerClientThroughHushd: one client may hold auth.max_streams_per_client
// streams at once (in auth mode none a client is its IP address); one more gets
// RESOURCE_EXHAUSTED, and closing one makes room.
func TestStreamCapPerClientThroughHushd(t *testing.T) {
	t.Parallel()
	const max = 5
	d := startDaemon(t, "--auth-max-streams-per-client", itoa(max))
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "streams"})
	if err != nil {
		t.Fatal(err)
	}
	var cancels []context.CancelFunc
	for range max {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		t.Cleanup(cancel)
		st, err := d.session.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: s.SessionId})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	over := func() error {
		st, err := d.session.WatchSession(d.ctx(), &hushv1.WatchSessionRequest{SessionId: s.SessionId})
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}
	if err := over(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("stream %d of one client: %v, want RESOURCE_EXHAUSTED", max+1, err)
	}
	cancels[0]()
	for i := 0; ; i++ {
		err := over()
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || i == 1000 {
			t.Fatalf("after closing one stream: %v", err)
		}
	}
}

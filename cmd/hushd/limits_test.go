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
	"google.golang.org/protobuf/proto"

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

// rawH2 is a raw HTTP/2 client connection to hushd's gRPC listener: what a gRPC client
// would never send (a stream past the server's limit, a ping flood) it sends.
type rawH2 struct {
	t    *testing.T
	c    net.Conn
	fr   *http2.Framer
	addr string
}

// dialRawH2 connects, exchanges SETTINGS and returns the server's.
func dialRawH2(t *testing.T, addr string) (*rawH2, *http2.SettingsFrame) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(2 * wait)) // a bound, never waited for
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &rawH2{t: t, c: c, fr: http2.NewFramer(c, c), addr: addr}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		f, err := h.fr.ReadFrame()
		if err != nil || i == 10 {
			t.Fatalf("no SETTINGS from hushd: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := h.fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			return h, sf
		}
	}
}

// watch opens a WatchSession stream (its request sent, the client half closed).
func (h *rawH2) watch(stream uint32, sessionID string) {
	h.t.Helper()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", hushv1.SessionService_WatchSession_FullMethodName},
		{":authority", h.addr}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		h.t.Fatal(err)
	}
	req, err := proto.Marshal(&hushv1.WatchSessionRequest{SessionId: sessionID})
	if err != nil {
		h.t.Fatal(err)
	}
	msg := append([]byte{0, 0, 0, 0, byte(len(req))}, req...)
	if err := h.fr.WriteData(stream, true, msg); err != nil {
		h.t.Fatal(err)
	}
}

// answers reads frames until each stream of want was answered (response HEADERS) or
// reset, and returns how each ended: "answered" or the RST_STREAM code.
func (h *rawH2) answers(want ...uint32) map[uint32]string {
	h.t.Helper()
	got := map[uint32]string{}
	for i := 0; len(got) < len(want); i++ {
		f, err := h.fr.ReadFrame()
		if err != nil || i == 200 {
			h.t.Fatalf("streams %v: got %v, then %v", want, got, err)
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			if _, seen := got[f.StreamID]; !seen {
				got[f.StreamID] = "answered"
			}
		case *http2.RSTStreamFrame:
			if _, seen := got[f.StreamID]; !seen {
				got[f.StreamID] = f.ErrCode.String()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = h.fr.WritePing(true, f.Data)
			}
		}
	}
	return got
}

// TestTransportStreamCapAndPingFlood: hushd's gRPC transport as configured, on loopback.
// With grpc.max_streams_per_connection 2 it advertises SETTINGS_MAX_CONCURRENT_STREAMS 2
// and refuses a third open stream on the connection (RST_STREAM REFUSED_STREAM, never
// handled); once a stream ends there is room again (a gRPC client queues its third stream
// until then). A client pinging more often than keepalive enforcement allows (one ping
// per 10 s) gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and its connection closed.
// Calls on well-behaved connections go on.
func TestTransportStreamCapAndPingFlood(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--grpc-max-streams-per-connection", "2")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "limits"})
	if err != nil {
		t.Fatal(err)
	}

	h, settings := dialRawH2(t, d.ready.GRPC)
	if v, ok := settings.Value(http2.SettingMaxConcurrentStreams); !ok || v != 2 {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d (sent %v), want 2", v, ok)
	}
	h.watch(1, s.SessionId)
	h.watch(3, s.SessionId)
	h.watch(5, s.SessionId)
	got := h.answers(1, 3, 5)
	if got[1] != "answered" || got[3] != "answered" || got[5] != http2.ErrCodeRefusedStream.String() {
		t.Fatalf("three streams on a connection allowed 2: %v; want 1 and 3 answered, 5 REFUSED_STREAM", got)
	}
	if err := h.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	h.watch(7, s.SessionId)
	if got := h.answers(7); got[7] != "answered" {
		t.Fatalf("a stream after one ended: %v, want answered", got)
	}

	// The ping flood, on a connection of its own with no stream open.
	p, _ := dialRawH2(t, d.ready.GRPC)
	for i := range 6 {
		// hushd may close the connection while the flood is still being written.
		if err := p.fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatal(err)
			}
			break
		}
	}
	var away *http2.GoAwayFrame
	for i := 0; away == nil; i++ {
		f, err := p.fr.ReadFrame()
		if err != nil || i == 100 {
			t.Fatalf("no GOAWAY after a ping flood: %v", err)
		}
		away, _ = f.(*http2.GoAwayFrame)
	}
	if away.ErrCode != http2.ErrCodeEnhanceYourCalm || string(away.DebugData()) != "too_many_pings" {
		t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", away.ErrCode, away.DebugData())
	}
	// gRPC lingers up to a second after the GOAWAY so its TCP close is a FIN, not a RST.
	for i := 0; ; i++ {
		if _, err := p.fr.ReadFrame(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("after GOAWAY: %v; want the connection closed", err)
			}
			break
		}
		if i == 100 {
			t.Fatal("the connection stayed open after GOAWAY")
		}
	}

	// The streams of the first connection and a gRPC client are unharmed.
	if got := h.answers(); len(got) != 0 {
		t.Fatal(got)
	}
	if _, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
}

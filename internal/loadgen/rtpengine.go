package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/internal/ng"
)

// Rtpengine drives Sipwise rtpengine over its ng control protocol: a bencoded dictionary
// over UDP, prefixed by a cookie that the reply repeats. A call is an "offer" carrying the
// customer's SDP (the reply's SDP is where the agent must send) and an "answer" carrying
// the agent's SDP (the reply's SDP is where the customer must send); "delete" ends it.
// rtpengine forwards plain RTP without transcoding when both sides offer the same codec.
type Rtpengine struct {
	name string
	ng   netip.AddrPort
	pid  int
	run  string
	seq  atomic.Uint64 // call-ids are never reused, not even after delete
	wait time.Duration // per attempt
	// offerKeys are added to every offer (hushd's per-call keys: masking, recording).
	offerKeys map[string]any
	// block, when set, puts every call on rtpengine's own masking path (SetBlockDTMF).
	block *BlockDTMF
}

// BlockDTMF is rtpengine's DTMF masking, the like-for-like of hush's masked directions:
// after offer and answer, a "block DTMF" command per masked direction (the from-tag of
// the party whose DTMF is blocked) with DTMF-security Mode (in-band tones replaced by
// silence, or a tone), in-band detection ("detect DTMF", which engages rtpengine's
// codec handlers on a G.711 call) and a delay buffer of Delay, so a tone can be replaced
// from its first sample, as hush's look-ahead does.
type BlockDTMF struct {
	Mode  string        // DTMF-security: silence, tone, drop...
	Delay time.Duration // delay-buffer, whole milliseconds
	Dirs  [2]bool       // index 0 customer -> agent (from-tag customer), 1 agent -> customer
}

// SetBlockDTMF puts every call created from now on on rtpengine's masking path.
func (r *Rtpengine) SetBlockDTMF(b BlockDTMF) { r.block = &b }

// SetOfferKeys adds keys to every offer from now on, e.g. hushd's "hush-mask-to-agent".
func (r *Rtpengine) SetOfferKeys(keys map[string]any) { r.offerKeys = keys }

// offerRequest is the offer of call callID with sdp from the customer, the keys of extra,
// and the keys SetOfferKeys gave.
func (r *Rtpengine) offerRequest(callID, sdp string, extra map[string]any) map[string]any {
	req := map[string]any{
		"command": "offer", "call-id": callID, "from-tag": "customer",
		"sdp": sdp, "flags": []any{"trust-address"},
		"replace": []any{"origin", "session-connection"},
	}
	for k, v := range extra {
		req[k] = v
	}
	for k, v := range r.offerKeys {
		req[k] = v
	}
	return req
}

// NewRtpengine talks to the ng port at ng; pid is rtpengine's process id (0 if unknown).
func NewRtpengine(ng netip.AddrPort, pid int) *Rtpengine {
	return NewNG("rtpengine", ng, pid)
}

// NewNG drives any relay that speaks the ng protocol at ng (rtpengine, hushd's ng
// listener), reported under name.
func NewNG(name string, ng netip.AddrPort, pid int) *Rtpengine {
	return &Rtpengine{name: name, ng: ng, pid: pid, run: strconv.FormatInt(time.Now().UnixNano()%1e9, 36), wait: 2 * time.Second}
}

func (r *Rtpengine) Name() string    { return r.name }
func (r *Rtpengine) Control() string { return "ng" }
func (r *Rtpengine) PID() int        { return r.pid }

// CreateCall sends offer and answer for call i.
func (r *Rtpengine) CreateCall(ctx context.Context, i int, customer, agent netip.AddrPort) (Call, error) {
	callID := fmt.Sprintf("load-%s-%d-%d", r.run, r.seq.Add(1), i)
	offer, err := r.Command(ctx, r.offerRequest(callID, audioSDP(customer), nil))
	if err != nil {
		return Call{}, err
	}
	agentIn, err := sdpMediaAddr(offer["sdp"])
	if err != nil {
		return Call{}, err
	}
	answer, err := r.Command(ctx, map[string]any{
		"command": "answer", "call-id": callID, "from-tag": "customer", "to-tag": "agent",
		"sdp": audioSDP(agent), "flags": []any{"trust-address"},
		"replace": []any{"origin", "session-connection"},
	})
	if err != nil {
		return Call{}, err
	}
	customerIn, err := sdpMediaAddr(answer["sdp"])
	if err != nil {
		return Call{}, err
	}
	if b := r.block; b != nil {
		for d, tag := range [2]string{"customer", "agent"} {
			if !b.Dirs[d] {
				continue
			}
			if _, err := r.Command(ctx, map[string]any{
				"command": "block DTMF", "call-id": callID, "from-tag": tag,
				"DTMF-security": b.Mode, "delay-buffer": int(b.Delay / time.Millisecond),
				"flags": []any{"detect DTMF"},
			}); err != nil {
				return Call{}, err
			}
		}
	}
	return Call{ID: callID, CustomerIn: customerIn, AgentIn: agentIn, Close: func(ctx context.Context) error {
		_, err := r.Command(ctx, map[string]any{"command": "delete", "call-id": callID, "from-tag": "customer"})
		return err
	}}, nil
}

// audioSDP is a minimal RFC 4566 offer: PCMU at 20 ms from addr.
func audioSDP(addr netip.AddrPort) string {
	ipv := "IP4"
	if addr.Addr().Is6() {
		ipv = "IP6"
	}
	a := addr.Addr().String()
	return "v=0\r\no=- 1 1 IN " + ipv + " " + a + "\r\ns=hushload\r\nc=IN " + ipv + " " + a +
		"\r\nt=0 0\r\nm=audio " + strconv.Itoa(int(addr.Port())) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
}

// sdpMediaAddr reads the connection address and port of the first audio stream of an SDP
// (RFC 4566 sections 5.7 and 5.14); a c= line inside that media section overrides the
// session-level one.
func sdpMediaAddr(v any) (netip.AddrPort, error) {
	sdp, ok := v.(string)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%w: reply has no sdp string", ErrSDP)
	}
	var session, media netip.Addr
	port := 0
	section := "session" // "session", "audio" (the first audio section) or "other"
	for line := range strings.SplitSeq(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "m="):
			if section == "audio" {
				section = "done"
				break
			}
			if section == "done" {
				break
			}
			f := strings.Fields(line[2:])
			if len(f) < 3 || f[0] != "audio" {
				section = "other"
				break
			}
			p, err := strconv.ParseUint(strings.SplitN(f[1], "/", 2)[0], 10, 16)
			if err != nil || p == 0 {
				return netip.AddrPort{}, fmt.Errorf("%w: bad m= port", ErrSDP)
			}
			port, section = int(p), "audio"
		case strings.HasPrefix(line, "c=") && (section == "session" || section == "audio"):
			f := strings.Fields(line[2:])
			if len(f) != 3 || f[0] != "IN" {
				return netip.AddrPort{}, fmt.Errorf("%w: bad c= line", ErrSDP)
			}
			a, err := netip.ParseAddr(strings.SplitN(f[2], "/", 2)[0])
			if err != nil {
				return netip.AddrPort{}, fmt.Errorf("%w: c= address is not an IP literal", ErrSDP)
			}
			if section == "session" {
				session = a
			} else {
				media = a
			}
		}
	}
	if !media.IsValid() {
		media = session
	}
	if !media.IsValid() || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: no connection address or audio port", ErrSDP)
	}
	return netip.AddrPortFrom(media.Unmap(), uint16(port)), nil
}

// Command sends one ng command and returns the reply dictionary; a result other than "ok"
// is an error carrying rtpengine's reason. UDP, so it retries (3 attempts) on timeout.
func (r *Rtpengine) Command(ctx context.Context, req map[string]any) (map[string]any, error) {
	var cookie [8]byte
	_, _ = rand.Read(cookie[:])
	ck := hex.EncodeToString(cookie[:])
	msg, err := ng.AppendMessage(nil, ck, req)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.ng))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNG, err)
	}
	defer conn.Close()
	buf := make([]byte, 65536)
	for attempt := 0; attempt < 3; attempt++ {
		if _, err := conn.Write(msg); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNG, err)
		}
		deadline := time.Now().Add(r.wait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("%w: %s: %v", ErrNG, req["command"], ctx.Err())
				}
				break // timeout (or ICMP refused): resend
			}
			reply, ok, err := parseNGReply(buf[:n], ck)
			if !ok {
				continue // a late reply to an earlier cookie
			}
			if err != nil {
				return nil, err
			}
			return reply, nil
		}
	}
	return nil, fmt.Errorf("%w: %s: no reply from %s (cookie %s, from %s)", ErrNG, req["command"], r.ng, ck, conn.LocalAddr())
}

// parseNGReply splits "cookie dict"; ok=false when the cookie is not ours.
func parseNGReply(b []byte, cookie string) (map[string]any, bool, error) {
	ck, d, err := ng.ParseMessage(b)
	if ck != cookie {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("%w: reply: %w", ErrNG, err)
	}
	if res, _ := d["result"].(string); res != "ok" && res != "pong" {
		reason, _ := d["error-reason"].(string)
		return nil, true, fmt.Errorf("%w: result %q: %s", ErrNG, res, reason)
	}
	return d, true, nil
}

// StartRtpengine runs rtpengine in the foreground, userspace only (--table=-1: no kernel
// forwarding), on loopback with ng on ngPort and media ports [portMin, portMax], logging
// to stderr at level 5 (notice: nothing per call), and waits until it answers an ng ping.
// extra flags are appended (e.g. --num-threads=2).
func StartRtpengine(ctx context.Context, bin string, ngPort, portMin, portMax int, extra []string, logw io.Writer) (*Process, error) {
	args := append([]string{
		"--config-file=none", "--foreground", "--log-stderr", "--log-level=5", "--table=-1",
		"--interface=127.0.0.1", "--listen-ng=127.0.0.1:" + strconv.Itoa(ngPort),
		"--port-min=" + strconv.Itoa(portMin), "--port-max=" + strconv.Itoa(portMax),
		"--delete-delay=0", "--timeout=60",
	}, extra...)
	p, err := startProcess(ctx, bin, args, logw, nil)
	if err != nil {
		return nil, err
	}
	p.Addr = "127.0.0.1:" + strconv.Itoa(ngPort)
	r := &Rtpengine{ng: netip.MustParseAddrPort(p.Addr), wait: 100 * time.Millisecond}
	for range 100 { // up to 10-30 s
		if p.exited() {
			break
		}
		if reply, err := r.Command(ctx, map[string]any{"command": "ping"}); err == nil && reply["result"] == "pong" {
			return p, nil
		}
		select { // refused at once while it starts: pace the pings
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	_ = p.Stop()
	return nil, fmt.Errorf("%w: %s did not answer an ng ping on %s", ErrTarget, bin, p.Addr)
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

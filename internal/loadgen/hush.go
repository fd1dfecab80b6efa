package loadgen

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hushmedia/hush/media/srtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Hush drives a hushd over its gRPC SessionService.
type Hush struct {
	conn   *grpc.ClientConn
	client hushv1.SessionServiceClient
	pid    int
	http   string         // hushd's HTTP address for /metrics; "" = not scraped
	policy *hushv1.Policy // sent in every CreateSession; NewHush's: both directions unmasked
	engine string         // hushd's media engine, when known
	run    string         // distinguishes call ids of hushload processes against one hushd
	seq    atomic.Uint64  // distinguishes calls within it: a repeated request_id would
	// return the first (long deleted) session, as CreateSession is idempotent
}

// NewHush connects to hushd's gRPC address (plaintext: the harness runs on loopback). pid is
// hushd's process id for CPU and memory, 0 if unknown.
func NewHush(addr string, pid int) (*Hush, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("%w: hush: %v", ErrTarget, err)
	}
	// Unmasked unless SetPolicy says otherwise, explicitly: hushd's default masks what
	// the agent hears, and the harness forwards payloads it must find byte for byte.
	off := &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}
	return &Hush{conn: conn, client: hushv1.NewSessionServiceClient(conn), pid: pid,
		policy: &hushv1.Policy{CustomerToAgent: off, AgentToCustomer: off},
		run:    strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}, nil
}

func (h *Hush) Name() string    { return "hush" }
func (h *Hush) Control() string { return "grpc" }
func (h *Hush) PID() int        { return h.pid }

// Close closes the gRPC connection.
func (h *Hush) Close() error { return h.conn.Close() }

// CreateCall creates a session with both remotes given, so no leg latches and no packet is
// lost to latching.
func (h *Hush) CreateCall(ctx context.Context, i int, customer, agent netip.AddrPort) (Call, error) {
	return h.create(ctx, i, &hushv1.Leg{RemoteAddr: customer.String()}, &hushv1.Leg{RemoteAddr: agent.String()})
}

// CreateSRTPCall creates the session with SRTP on both legs: hush's keys toward each party
// are made here and given with the parties'.
func (h *Hush) CreateSRTPCall(ctx context.Context, i int, customer, agent netip.AddrPort, keys *CallKeys) (Call, error) {
	var err error
	suite := keys.Customer.Suite()
	if keys.ToCustomer, err = srtp.GenerateKey(suite); err != nil {
		return Call{}, err
	}
	if keys.ToAgent, err = srtp.GenerateKey(suite); err != nil {
		return Call{}, err
	}
	leg := func(addr netip.AddrPort, party, to srtp.Key) *hushv1.Leg {
		return &hushv1.Leg{RemoteAddr: addr.String(), Srtp: &hushv1.Srtp{Suite: hushv1.SrtpSuite(suite),
			RemoteKey: party.Material(), LocalKey: to.Material()}}
	}
	return h.create(ctx, i, leg(customer, keys.Customer, keys.ToCustomer), leg(agent, keys.Agent, keys.ToAgent))
}

func (h *Hush) create(ctx context.Context, i int, customer, agent *hushv1.Leg) (Call, error) {
	id := fmt.Sprintf("load-%s-%d-%d", h.run, h.seq.Add(1), i)
	s, err := h.client.CreateSession(ctx, &hushv1.CreateSessionRequest{
		CallId:    id,
		RequestId: id,
		AgentId:   fmt.Sprintf("load-agent-%d", i),
		Customer:  customer,
		Agent:     agent,
		Policy:    h.policy,
	})
	if err != nil {
		return Call{}, fmt.Errorf("%w: hush CreateSession: %v", ErrTarget, err)
	}
	cin, err1 := netip.ParseAddrPort(s.GetCustomer().GetLocalAddr())
	ain, err2 := netip.ParseAddrPort(s.GetAgent().GetLocalAddr())
	if err1 != nil || err2 != nil {
		return Call{}, fmt.Errorf("%w: hush: session local addresses %q %q", ErrTarget,
			s.GetCustomer().GetLocalAddr(), s.GetAgent().GetLocalAddr())
	}
	sid := s.GetSessionId()
	return Call{ID: sid, CustomerIn: cin, AgentIn: ain, Close: func(ctx context.Context) error {
		_, err := h.client.DeleteSession(ctx, &hushv1.DeleteSessionRequest{SessionId: sid})
		return err
	}}, nil
}

// SetCapture starts or stops secure capture on the call's session.
func (h *Hush) SetCapture(ctx context.Context, c Call, on bool) error {
	var err error
	if on {
		_, err = h.client.StartSecureCapture(ctx, &hushv1.StartSecureCaptureRequest{SessionId: c.ID})
	} else {
		_, err = h.client.StopSecureCapture(ctx, &hushv1.StopSecureCaptureRequest{SessionId: c.ID})
	}
	return err
}

// SetPolicy makes every session created from now on carry p (see MaskPolicy).
func (h *Hush) SetPolicy(p *hushv1.Policy) { h.policy = p }

// SetEngine records hushd's media engine name for the report (Process.Engine).
func (h *Hush) SetEngine(name string) { h.engine = name }

// Engine is hushd's media engine name, "" if unknown.
func (h *Hush) Engine() string { return h.engine }

// MaskModes are the masking modes MaskPolicy accepts, as hushload's -mask spells them.
var MaskModes = map[string]hushv1.MaskMode{
	"none": hushv1.MaskMode_MASK_MODE_OFF, "silence": hushv1.MaskMode_MASK_MODE_SILENCE,
	"tone": hushv1.MaskMode_MASK_MODE_TONE, "comfort-noise": hushv1.MaskMode_MASK_MODE_COMFORT_NOISE,
}

// MaskPolicy is a session policy masking the directions in masked (index 0 customer ->
// agent, 1 agent -> customer) with mode and an explicit look-ahead, so the harness knows
// the delay it subtracts; the others are off. record turns recording on (else off).
func MaskPolicy(mode string, masked [2]bool, lookAhead time.Duration, record bool) (*hushv1.Policy, error) {
	mm, ok := MaskModes[mode]
	if !ok {
		return nil, fmt.Errorf("%w: mask mode %q: want none, silence, tone or comfort-noise", ErrConfig, mode)
	}
	dir := func(on bool) *hushv1.MaskingPolicy {
		if !on || mm == hushv1.MaskMode_MASK_MODE_OFF {
			return &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}
		}
		return &hushv1.MaskingPolicy{Mode: mm, LookAhead: durationpb.New(lookAhead)}
	}
	rec := hushv1.RecordingMode_RECORDING_MODE_OFF
	if record {
		rec = hushv1.RecordingMode_RECORDING_MODE_ON
	}
	return &hushv1.Policy{CustomerToAgent: dir(masked[0]), AgentToCustomer: dir(masked[1]), Recording: rec}, nil
}

// SetMetricsAddr lets the target read hushd's drop counters from http://addr/metrics.
func (h *Hush) SetMetricsAddr(addr string) { h.http = addr }

// Drops returns hushd's hush_packets_dropped_total summed over directions, by reason, from
// its Prometheus text exposition.
func (h *Hush) Drops(ctx context.Context) (map[string]float64, error) {
	body, err := h.metricsText(ctx)
	if body == "" || err != nil {
		return nil, err
	}
	return parseDrops(body), nil
}

// RecordingLate returns hushd's hush_recording_late_packets_total summed over legs: audio
// of recordings that ended which reached the recording after its place was written.
func (h *Hush) RecordingLate(ctx context.Context) (float64, error) {
	body, err := h.metricsText(ctx)
	if body == "" || err != nil {
		return 0, err
	}
	var sum float64
	seen := false
	for _, v := range samples(body, "hush_recording_late_packets_total") {
		sum, seen = sum+v, true
	}
	if !seen {
		return 0, fmt.Errorf("%w: hushd's /metrics has no hush_recording_late_packets_total", ErrTarget)
	}
	return sum, nil
}

// metricsText is hushd's /metrics exposition; "" when no HTTP address is known.
func (h *Hush) metricsText(ctx context.Context) (string, error) {
	if h.http == "" {
		return "", nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.http+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", err
	}
	return string(body), nil
}

// parseDrops sums `hush_packets_dropped_total{...,reason="R",...} V` lines by R.
func parseDrops(text string) map[string]float64 {
	out := map[string]float64{}
	for labels, v := range samples(text, "hush_packets_dropped_total") {
		for l := range strings.SplitSeq(labels, ",") {
			if r, ok := strings.CutPrefix(l, `reason="`); ok {
				out[strings.TrimSuffix(r, `"`)] += v
			}
		}
	}
	return out
}

// samples yields the labels (between the braces) and value of each `name{...} V` line
// of a Prometheus text exposition.
func samples(text, name string) iter.Seq2[string, float64] {
	return func(yield func(string, float64) bool) {
		for line := range strings.SplitSeq(text, "\n") {
			rest, ok := strings.CutPrefix(line, name+"{")
			if !ok {
				continue
			}
			labels, val, ok := strings.Cut(rest, "} ")
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil {
				continue
			}
			if !yield(labels, v) {
				return
			}
		}
	}
}

// HushNG drives hushd through its ng listener, as a SIP proxy does (offer, answer,
// delete), with hushd's /metrics and engine name from its gRPC-side Hush.
type HushNG struct {
	ng   *Rtpengine
	hush *Hush
}

// NewHushNG drives hushd's ng listener at ng; h is the same hushd over gRPC. Calls are
// unmasked unless SetPolicy says otherwise, as with gRPC (hushd's default masks what the
// agent hears).
func NewHushNG(ng netip.AddrPort, h *Hush) *HushNG {
	n := &HushNG{ng: NewNG("hush", ng, h.PID()), hush: h}
	n.SetPolicy("none", [2]bool{}, false)
	return n
}

// SetPolicy makes every call offered from now on mask the directions in masked (0
// customer -> agent, 1 agent -> customer) with mode (MaskModes' names), and record when
// record, through hushd's own ng keys. The look-ahead is hushd's masking.look_ahead.
func (h *HushNG) SetPolicy(mode string, masked [2]bool, record bool) {
	dir := func(on bool) string {
		if on && mode != "none" {
			return mode
		}
		return "off"
	}
	keys := map[string]any{"hush-mask-to-agent": dir(masked[0]), "hush-mask-to-customer": dir(masked[1])}
	if record {
		keys["record-call"] = "yes"
	}
	h.ng.SetOfferKeys(keys)
}

func (h *HushNG) Name() string    { return "hush" }
func (h *HushNG) PID() int        { return h.hush.PID() }
func (h *HushNG) Control() string { return "ng" }
func (h *HushNG) Engine() string  { return h.hush.Engine() }

// CreateCall is the ng offer and answer.
func (h *HushNG) CreateCall(ctx context.Context, i int, customer, agent netip.AddrPort) (Call, error) {
	return h.ng.CreateCall(ctx, i, customer, agent)
}

// Drops reads hushd's drop counters.
func (h *HushNG) Drops(ctx context.Context) (map[string]float64, error) { return h.hush.Drops(ctx) }

// RecordingLate is the gRPC-side Hush's.
func (h *HushNG) RecordingLate(ctx context.Context) (float64, error) {
	return h.hush.RecordingLate(ctx)
}

// Close closes the gRPC connection.
func (h *HushNG) Close() error { return h.hush.Close() }

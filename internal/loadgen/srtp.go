package loadgen

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hushmedia/hush/media/srtp"
)

// CallKeys are a call's SRTP keys (Config.SRTP): what each party encrypts with, and what
// the relay encrypts toward each party with.
type CallKeys struct {
	Customer, Agent     srtp.Key
	ToCustomer, ToAgent srtp.Key
}

// SRTPTarget is a Target that sets calls up with SRTP on both legs: keys.Customer and
// keys.Agent are given, the target fills in keys.ToCustomer and keys.ToAgent (its own
// keys, or what its SDP says).
type SRTPTarget interface {
	CreateSRTPCall(ctx context.Context, i int, customer, agent netip.AddrPort, keys *CallKeys) (Call, error)
}

// CreateSRTPCall: with no relay each party receives what the other encrypted.
func (Direct) CreateSRTPCall(ctx context.Context, i int, customer, agent netip.AddrPort, keys *CallKeys) (Call, error) {
	keys.ToAgent, keys.ToCustomer = keys.Customer, keys.Agent
	return Direct{}.CreateCall(ctx, i, customer, agent)
}

// streamCrypto is the SRTP state of every stream: the sender's context (used by the one
// sender goroutine that owns the stream) and the receiver's (used by the one receiver of
// the socket the stream arrives on).
type streamCrypto struct {
	out []*srtp.Outbound
	in  []*srtp.Inbound
}

// newStreamCrypto makes the contexts of every call's two streams: stream 2i is call i's
// customer -> agent (sent with the customer's key, received with the relay's key toward
// the agent), 2i+1 the other way.
func newStreamCrypto(keys []CallKeys) (*streamCrypto, error) {
	sc := &streamCrypto{out: make([]*srtp.Outbound, 2*len(keys)), in: make([]*srtp.Inbound, 2*len(keys))}
	for i, k := range keys {
		for d, pair := range [2][2]srtp.Key{{k.Customer, k.ToAgent}, {k.Agent, k.ToCustomer}} {
			out, err := srtp.NewOutbound(pair[0])
			if err != nil {
				return nil, fmt.Errorf("%w: call %d: %v", ErrConfig, i, err)
			}
			in, err := srtp.NewInbound(pair[1])
			if err != nil {
				return nil, fmt.Errorf("%w: call %d: %v", ErrConfig, i, err)
			}
			sc.out[2*i+d], sc.in[2*i+d] = out, in
		}
	}
	return sc, nil
}

// srtpSDP is audioSDP on RTP/SAVP with one a=crypto line.
func srtpSDP(addr netip.AddrPort, c srtp.Crypto) string {
	return strings.Replace(audioSDP(addr), "RTP/AVP", "RTP/SAVP", 1) + "a=crypto:" + c.Value() + "\r\n"
}

// sdpCrypto finds the a=crypto line of a suite in an ng reply's SDP.
func sdpCrypto(v any, suite srtp.Suite) (srtp.Crypto, error) {
	body, _ := v.(string)
	for line := range strings.SplitSeq(body, "\n") {
		val, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "a=crypto:")
		if !ok {
			continue
		}
		c, err := srtp.ParseCrypto(val)
		if err == nil && c.Suite() == suite {
			return c, nil
		}
	}
	return srtp.Crypto{}, fmt.Errorf("%w: no a=crypto line of %v in the reply", ErrSDP, suite)
}

// CreateSRTPCall is CreateCall with SDES-SRTP on both sides: the customer offers its key,
// the agent answers the relay's line of the same suite with its own.
func (r *Rtpengine) CreateSRTPCall(ctx context.Context, i int, customer, agent netip.AddrPort, keys *CallKeys) (Call, error) {
	callID := fmt.Sprintf("load-%s-%d-%d", r.run, r.seq.Add(1), i)
	suite := keys.Customer.Suite()
	offer, err := r.Command(ctx, r.offerRequest(callID, srtpSDP(customer, srtp.Crypto{Tag: 1, Key: keys.Customer}),
		map[string]any{"transport-protocol": "RTP/SAVP"}))
	if err != nil {
		return Call{}, err
	}
	agentIn, err := sdpMediaAddr(offer["sdp"])
	if err != nil {
		return Call{}, err
	}
	toAgent, err := sdpCrypto(offer["sdp"], suite)
	if err != nil {
		return Call{}, err
	}
	answer, err := r.Command(ctx, map[string]any{
		"command": "answer", "call-id": callID, "from-tag": "customer", "to-tag": "agent",
		"sdp": srtpSDP(agent, srtp.Crypto{Tag: toAgent.Tag, Key: keys.Agent}), "flags": []any{"trust-address"},
		"replace": []any{"origin", "session-connection"},
	})
	if err != nil {
		return Call{}, err
	}
	customerIn, err := sdpMediaAddr(answer["sdp"])
	if err != nil {
		return Call{}, err
	}
	toCustomer, err := sdpCrypto(answer["sdp"], suite)
	if err != nil {
		return Call{}, err
	}
	keys.ToAgent, keys.ToCustomer = toAgent.Key, toCustomer.Key
	return Call{ID: callID, CustomerIn: customerIn, AgentIn: agentIn, Close: func(ctx context.Context) error {
		_, err := r.Command(ctx, map[string]any{"command": "delete", "call-id": callID, "from-tag": "customer"})
		return err
	}}, nil
}

// CreateSRTPCall sets the call up over ng with SDES.
func (h *HushNG) CreateSRTPCall(ctx context.Context, i int, customer, agent netip.AddrPort, keys *CallKeys) (Call, error) {
	return h.ng.CreateSRTPCall(ctx, i, customer, agent, keys)
}

// ParseSRTPSuite reads a -srtp value: "" or "off" for none, else a suite name.
func ParseSRTPSuite(v string) (srtp.Suite, error) {
	if v == "" || v == "off" {
		return srtp.SuiteNone, nil
	}
	s, ok := srtp.ParseSuite(v)
	if !ok {
		return srtp.SuiteNone, fmt.Errorf("%w: -srtp %s: one of %v", ErrConfig, strconv.Quote(v), srtp.Suites())
	}
	return s, nil
}

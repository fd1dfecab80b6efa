package offeranswer

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/media/srtp"
)

// Transport protocols hush relays: plain RTP and SDES-SRTP (RFC 4568), with or without
// RTCP feedback.
const (
	ProtoAVP   = "RTP/AVP"
	ProtoAVPF  = "RTP/AVPF"
	ProtoSAVP  = "RTP/SAVP"
	ProtoSAVPF = "RTP/SAVPF"
)

// SDES is how a request treats SDES keying, as rtpengine's SDES flags do.
type SDES struct {
	// Off: offer no SDES to the recipient (an SRTP transport for it is then an error).
	Off bool
	// No removes suites from what hush offers; Only keeps these alone (and adds them).
	No, Only []srtp.Suite
	// OffererPref: the suites to pick the offerer's key from, in this order, before its own
	// order.
	OffererPref []srtp.Suite
	// NoNew offers only the suites the sender offered.
	NoNew bool
	// Order puts these suites first in what hush offers.
	Order []srtp.Suite
}

// sdesParty is one party's SDES state in a call: hush's keys toward it, and what hush
// offered it or will answer it.
type sdesParty struct {
	// mine holds hush's key toward the party per suite, made once and kept for the call,
	// so a re-offer keeps the crypto contexts (and their rollover counters).
	mine map[srtp.Suite]srtp.Key
	// offered is what hush offered the party in the last offer; its answer picks one.
	// Empty: hush offered it plain RTP.
	offered []srtp.Crypto
	// answer is hush's answer to the party's last offer; nil when it offered plain RTP.
	answer *srtp.Crypto
	// proto is the party's transport in its last offer, which hush's answer repeats.
	proto string
}

func (p *sdesParty) key(s srtp.Suite) (srtp.Key, error) {
	if k, ok := p.mine[s]; ok {
		return k, nil
	}
	k, err := srtp.GenerateKey(s)
	if err != nil {
		return srtp.Key{}, err
	}
	if p.mine == nil {
		p.mine = map[srtp.Suite]srtp.Key{}
	}
	p.mine[s] = k
	return k, nil
}

// usableCrypto reads a section's a=crypto lines and keeps those hush can use, in order.
func usableCrypto(m *sdp.Media) ([]srtp.Crypto, error) {
	var out []srtp.Crypto
	var why error
	for _, v := range m.Crypto {
		c, err := srtp.ParseCrypto(v)
		if err != nil {
			why = err
			continue
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		if why == nil {
			why = errors.New("no a=crypto line")
		}
		return nil, fmt.Errorf("%w: no SDES key hush can use (%w); hush supports %v", ErrUnsupported, why, srtp.Suites())
	}
	return out, nil
}

// senderKeys reads the keys of the party that sent an offer (its leg: its key to decrypt
// with, hush's to encrypt with) and prepares hush's answer to it. A plain RTP offer (and
// an opportunistic one, RTP/AVP with a=crypto, RFC 8643, which hush answers plain) is
// nil.
func senderKeys(m *sdp.Media, o *SDES, p *sdesParty) (*srtp.Keys, error) {
	p.proto, p.answer = m.Proto, nil
	if !m.IsSRTP() {
		return nil, nil
	}
	cs, err := usableCrypto(m)
	if err != nil {
		return nil, err
	}
	pick := cs[0]
	for _, s := range o.OffererPref {
		if i := slices.IndexFunc(cs, func(c srtp.Crypto) bool { return c.Suite() == s }); i >= 0 {
			pick = cs[i]
			break
		}
	}
	mine, err := p.key(pick.Suite())
	if err != nil {
		return nil, err
	}
	p.answer = &srtp.Crypto{Tag: pick.Tag, Key: mine}
	return &srtp.Keys{Recv: pick.Key, Send: mine}, nil
}

// targetProto is the transport hush offers the recipient: the request's, else the
// sender's (an opportunistic RTP/AVP with a=crypto becomes plain RTP/AVP).
func targetProto(m *sdp.Media, transport string, o *SDES) (string, error) {
	proto := m.Proto
	if transport != "" {
		proto = transport
	}
	switch proto {
	case ProtoAVP, ProtoAVPF:
	case ProtoSAVP, ProtoSAVPF:
		if o.Off {
			return "", fmt.Errorf("%w: an SRTP transport for the recipient with SDES off (hush does not do DTLS-SRTP)", ErrUnsupported)
		}
	default:
		return "", fmt.Errorf("%w: transport protocol %s", ErrUnsupported, proto)
	}
	return proto, nil
}

func isSecure(proto string) bool { return proto == ProtoSAVP || proto == ProtoSAVPF }

// offerCrypto makes the a=crypto lines hush offers the recipient p, with hush's keys:
// the sender's usable suites in its order (when it offered SDES), then hush's others
// unless NoNew, filtered by Only and No and ordered by Order.
func offerCrypto(sender *sdp.Media, o *SDES, p *sdesParty) ([]srtp.Crypto, error) {
	var suites []srtp.Suite
	if sender.IsSRTP() {
		if cs, err := usableCrypto(sender); err == nil {
			for _, c := range cs {
				if !slices.Contains(suites, c.Suite()) {
					suites = append(suites, c.Suite())
				}
			}
		}
	}
	if !o.NoNew || len(suites) == 0 {
		for _, s := range srtp.Suites() {
			if !slices.Contains(suites, s) && (!o.NoNew || len(suites) == 0) {
				suites = append(suites, s)
			}
		}
	}
	if len(o.Only) > 0 {
		suites = slices.DeleteFunc(suites, func(s srtp.Suite) bool { return !slices.Contains(o.Only, s) })
		for _, s := range o.Only {
			if !slices.Contains(suites, s) && !o.NoNew {
				suites = append(suites, s)
			}
		}
	}
	suites = slices.DeleteFunc(suites, func(s srtp.Suite) bool { return slices.Contains(o.No, s) })
	for i := len(o.Order) - 1; i >= 0; i-- {
		if j := slices.Index(suites, o.Order[i]); j > 0 {
			s := suites[j]
			suites = slices.Insert(slices.Delete(suites, j, j+1), 0, s)
		}
	}
	if len(suites) == 0 {
		return nil, fmt.Errorf("%w: the SDES flags leave no crypto suite to offer", ErrUnsupported)
	}
	out := make([]srtp.Crypto, 0, len(suites))
	for i, s := range suites {
		k, err := p.key(s)
		if err != nil {
			return nil, err
		}
		out = append(out, srtp.Crypto{Tag: i + 1, Key: k})
	}
	p.offered = out
	return out, nil
}

// answerKeys reads the keys of a party answering hush's offer p.offered: the answer's
// a=crypto must accept one of hush's lines (its tag and suite). An answer to a plain
// offer is plain (nil).
func answerKeys(m *sdp.Media, p *sdesParty) (*srtp.Keys, error) {
	if len(p.offered) == 0 {
		if m.IsSRTP() {
			return nil, fmt.Errorf("%w: an SRTP answer to a plain RTP offer", ErrMismatch)
		}
		return nil, nil
	}
	if !m.IsSRTP() {
		return nil, fmt.Errorf("%w: a %s answer to hush's %s offer (RFC 3264 section 6)", ErrMismatch, m.Proto, ProtoSAVP)
	}
	cs, err := usableCrypto(m)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		for _, mine := range p.offered {
			if c.Tag == mine.Tag && c.Suite() == mine.Suite() {
				return &srtp.Keys{Recv: c.Key, Send: mine.Key}, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: the answer's a=crypto accepts none of hush's (tag and suite, RFC 4568 section 5.1.2)", ErrMismatch)
}

func cryptoValues(cs []srtp.Crypto) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Value()
	}
	return out
}

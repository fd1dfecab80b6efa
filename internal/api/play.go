package api

import (
	"context"
	"fmt"
	"time"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/session"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Bounds and defaults of a played key: rtpengine's play DTMF.
const (
	defaultKeyDuration = 250 * time.Millisecond
	defaultKeyPause    = 100 * time.Millisecond
	minKeyDuration     = 100 * time.Millisecond
	maxKeyDuration     = 5 * time.Second
	defaultKeyLevel    = -8
)

// PlayDtmf plays a key toward a party. The key is never echoed in an error, the audit
// record or an event.
func (s *SessionServer) PlayDtmf(ctx context.Context, req *hushv1.PlayDtmfRequest) (_ *hushv1.Session, err error) {
	detail := ""
	defer func() {
		auditCall(ctx, s.aud, audit.ActionDTMFPlay, req.GetSessionId(), req.GetRequestId(), err, detail)
	}()
	k, err := playRequest(req)
	if err != nil {
		return nil, toStatus(err)
	}
	detail = fmt.Sprintf("toward %s, %v", 1-k.From, k.Duration)
	k.Actor = actor(ctx)
	q := request(ctx, req.GetRequestId(), req)
	k.Caller, k.Digest = q.Caller, q.Digest
	in, err := s.reg.PlayDTMF(req.GetSessionId(), k)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

func playRequest(req *hushv1.PlayDtmfRequest) (session.DTMFKey, error) {
	k := session.DTMFKey{RequestID: req.GetRequestId(), Duration: defaultKeyDuration, Pause: defaultKeyPause, Volume: -defaultKeyLevel}
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return k, err
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return k, err
	}
	switch req.GetToward() {
	case hushv1.LegName_LEG_NAME_CUSTOMER:
		k.From = session.Agent
	case hushv1.LegName_LEG_NAME_AGENT:
		k.From = session.Customer
	default:
		return k, invalidf("toward must be LEG_NAME_CUSTOMER or LEG_NAME_AGENT")
	}
	key := req.GetKey()
	if len(key) != 1 || !isDTMFKey(key[0]) {
		return k, invalidf("key must be one of 0-9, *, #, A-D")
	}
	k.Key = key[0]
	for _, d := range []struct {
		field string
		v     interface {
			CheckValid() error
			AsDuration() time.Duration
		}
		set      bool
		dst      *time.Duration
		min, max time.Duration
	}{
		{"duration", req.GetDuration(), req.GetDuration() != nil, &k.Duration, minKeyDuration, maxKeyDuration},
		{"pause", req.GetPause(), req.GetPause() != nil, &k.Pause, minKeyDuration, maxKeyDuration},
	} {
		if !d.set {
			continue
		}
		if d.v.CheckValid() != nil || d.v.AsDuration() < d.min || d.v.AsDuration() > d.max {
			return k, invalidf("%s must be between %v and %v", d.field, d.min, d.max)
		}
		*d.dst = d.v.AsDuration()
	}
	if lv := req.GetLevelDbm0(); lv != 0 {
		if lv < -63 || lv > 0 {
			return k, invalidf("level_dbm0 must be between -63 and 0")
		}
		k.Volume = uint8(-lv)
	}
	return k, nil
}

// isDTMFKey reports one of the 16 keys, upper or lower case letters.
func isDTMFKey(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c == '*', c == '#', c >= 'A' && c <= 'D', c >= 'a' && c <= 'd':
		return true
	}
	return false
}

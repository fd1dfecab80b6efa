package ng

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/hushmedia/hush/internal/session"
)

// commandCounts counts requests per command for "statistics".
type commandCounts struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (c *commandCounts) add(cmd string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]uint64{}
	}
	c.n[cmd]++
}

func (c *commandCounts) get(cmd string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(c.n[cmd])
}

// endpoint is query's address dictionary.
func endpoint(ap netip.AddrPort) map[string]any {
	fam := "IPv4"
	if ap.Addr().Is6() {
		fam = "IPv6"
	}
	return map[string]any{"family": fam, "address": ap.Addr().String(), "port": int64(ap.Port())}
}

func stats(packets, bytes, errors uint64) map[string]any {
	return map[string]any{"packets": int64(packets), "bytes": int64(bytes), "errors": int64(errors)}
}

// totals is query's "totals": what hush received from both parties.
func totals(in *session.Info) map[string]any {
	c, a := in.Customer.Stats, in.Agent.Stats
	return map[string]any{
		"RTP":  stats(c.RTPPacketsReceived+a.RTPPacketsReceived, c.RTPBytesReceived+a.RTPBytesReceived, c.PacketsDropped+a.PacketsDropped),
		"RTCP": stats(c.RTCPPacketsReceived+a.RTCPPacketsReceived, 0, 0),
	}
}

func (s *Server) query(r *request) (map[string]any, error) {
	callID, _, _, err := r.ids()
	if err != nil {
		return nil, err
	}
	ci, err := s.cfg.Engine.Call(callID)
	if err != nil {
		return nil, err
	}
	in := &ci.Session
	tags := map[string]any{}
	byLeg := [2]string{}
	for _, t := range ci.Tags {
		if byLeg[t.Leg] == "" {
			byLeg[t.Leg] = t.Tag
		}
	}
	for _, t := range ci.Tags {
		li := in.Leg(t.Leg)
		streams := []any{map[string]any{
			"local port": int64(li.Local.Port()), "flags": []any{"RTP"},
			"stats": stats(li.Stats.RTPPacketsReceived, li.Stats.RTPBytesReceived, li.Stats.PacketsDropped),
		}}
		if li.Remote.IsValid() {
			streams[0].(map[string]any)["endpoint"] = endpoint(li.Remote)
		}
		if adv := ci.Advertised[t.Leg]; adv.IsValid() {
			streams[0].(map[string]any)["advertised endpoint"] = endpoint(adv)
		}
		if !li.RTCPMux {
			streams = append(streams, map[string]any{"local port": int64(li.LocalRTCP.Port()), "flags": []any{"RTCP"},
				"stats": stats(li.Stats.RTCPPacketsReceived, 0, 0)})
		}
		mflags := []any{"initialized"}
		if li.RTCPMux {
			mflags = append(mflags, "rtcp-mux")
		}
		medias := []any{map[string]any{"index": int64(ci.AudioIndex + 1), "type": "audio", "protocol": ci.AudioProto,
			"flags": mflags, "streams": streams}}
		for _, x := range ci.Extras {
			medias = append(medias, map[string]any{"index": int64(x.Index + 1), "type": x.Type, "flags": []any{"plain"},
				"streams": []any{map[string]any{"local port": int64(x.Local[t.Leg].Port()), "flags": []any{"RTP"},
					"stats": stats(x.Stats[t.Leg].RTPPacketsReceived, x.Stats[t.Leg].RTPBytesReceived, x.Stats[t.Leg].PacketsDropped)}}})
		}
		tag := map[string]any{"tag": t.Tag, "created": ci.Created.Unix(), "medias": medias,
			"label": t.Leg.String()}
		if t.Label != "" {
			tag["label"] = t.Label
		}
		if peer := byLeg[1-t.Leg]; peer != "" {
			tag["in dialogue with"] = peer
		}
		tags[t.Tag] = tag
	}
	return map[string]any{
		"result": "ok", "created": ci.Created.Unix(), "last signal": ci.Signal.Unix(), "tags": tags,
		"totals": totals(in),
		"hush": map[string]any{ // hush's own view: the session the gRPC API shows
			"session id": in.ID, "recording": recordingState(in.Recording.State), "secure capture": onOff(in.Capture.On),
			"masking to agent": maskName(in.Policy.CustomerToAgent.Mode), "masking to customer": maskName(in.Policy.AgentToCustomer.Mode),
		},
	}, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func recordingState(s session.RecordingState) string {
	switch s {
	case session.RecordingActive:
		return "active"
	case session.RecordingPaused:
		return "paused"
	case session.RecordingFailed:
		return "failed"
	}
	return "stopped"
}

func maskName(m session.MaskMode) string {
	switch m {
	case session.MaskSilence:
		return "silence"
	case session.MaskComfortNoise:
		return "comfort-noise"
	case session.MaskTone:
		return "tone"
	}
	return "off"
}

// list returns active call-ids; rtpengine's default limit is 32.
func (s *Server) list(r *request) (map[string]any, error) {
	limit, set, err := r.integer("limit")
	if err != nil {
		return nil, err
	}
	if !set {
		limit = 32
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be greater than 0", ErrField)
	}
	limit = min(limit, 1000) // a reply must fit a datagram
	calls := []any{}
	for _, id := range s.cfg.Engine.CallIDs(int(limit)) {
		calls = append(calls, id)
	}
	return map[string]any{"result": "ok", "calls": calls}, nil
}

// statistics returns a subset of rtpengine's statistics with the same names.
func (s *Server) statistics() (map[string]any, error) {
	es := s.cfg.Engine.Stats()
	total := int64(s.cfg.Registry.Len())
	uptime := int64(s.cfg.Now().Sub(s.start).Seconds())
	control := map[string]any{}
	for name, key := range map[string]string{
		"ping": "totalpingcount", "offer": "totaloffercount", "answer": "totalanswercount",
		"delete": "totaldeletecount", "query": "totalquerycount", "list": "totallistcount",
		"start recording": "totalstartreccount", "stop recording": "totalstopreccount",
		"block dtmf": "totalblkdtmfcount", "unblock dtmf": "totalunblkdtmfcount", "statistics": "totalstatistics",
	} {
		control[key] = s.cmds.get(name)
	}
	return map[string]any{"result": "ok", "statistics": map[string]any{
		"currentstatistics": map[string]any{"sessionsown": int64(es.Calls), "sessionstotal": total, "sessionsforeign": int64(0)},
		"totalstatistics": map[string]any{"uptime": fmt.Sprint(uptime), "managedsessions": int64(es.Offers),
			"rejectedsessions": int64(es.Failures), "regularterminatedsessions": int64(es.Deletes)},
		"controlstatistics": control,
	}}, nil
}

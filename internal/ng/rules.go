package ng

// How hush treats each key and flag of rtpengine's ng protocol (its
// docs/ng_control_protocol.md). docs/NG.md is the reader's version of these tables; a
// test checks that it names every entry.

// act is what hush does with a key or flag.
type act int

const (
	// handled: the code reads it (offer/answer options, a command's arguments).
	handled act = iota
	// same: hush already behaves so; nothing to do, no warning.
	same
	// warn: not implemented and harmless to leave out; the reply's "warning" says so.
	warn
	// refuse: hush cannot do it, and going on without it would leave the call otherwise
	// than asked; the request fails (ErrUnsupported).
	refuse
)

// keyRules: dictionary keys, normalized (lowercase, '-' and '_' as spaces).
var keyRules = map[string]act{
	// identity and body
	"command": handled, "call id": handled, "from tag": handled, "to tag": handled, "sdp": handled,
	"flags": handled, "via branch": same, "supports": handled, "sip message type": same, "sip code": same,
	"rtpp flags": handled,
	// addresses and learning
	"received from": handled, "media address": handled, "address family": handled,
	"endpoint learning": handled, "direction": warn, "from interface": warn, "to interface": warn,
	"interface": warn, "inbound peer": warn, "outbound peer": warn, "peer": warn, "alias key": warn,
	// SDP rewriting
	"replace": handled, "ice": handled, "ice lite": warn, "rtcp mux": handled, "transport protocol": handled,
	"dtls": handled, "dtls fingerprint": warn, "sdes": handled, "osrtp": handled, "bundle": warn,
	"extmap": warn, "codec": warn, "codecs offer": warn, "ptime": warn, "ptime reverse": warn,
	"sdp attr": warn, "sdp media remove": warn, "t.38": warn, "t.38 version": warn, "template": warn,
	"tos": warn, "generate rtcp": warn, "media echo": warn, "audio player": warn, "delay buffer": warn,
	"moh": warn, "xmlrpc callback": warn, "metadata": warn, "output destination": warn,
	// parties
	"label": handled, "from label": handled, "to label": handled, "set label": warn,
	"from tags": warn, "all": handled, "address": handled,
	// recording
	"record call": handled, "recording file": warn, "recording dir": warn, "recording pattern": warn,
	"pause": handled,
	// DTMF
	"dtmf security": handled, "digit": warn, "code": warn, "duration": warn, "volume": warn,
	"frequency": warn, "frequencies": warn, "trigger": warn, "trigger end": warn,
	"end trigger": warn, "trigger end time": warn, "trigger end digits": warn,
	"dtmf security trigger": warn, "dtmf security trigger end": warn, "dtmf delay": warn, "dtmf log dest": warn,
	// media
	"drop traffic": handled,
	// delete, list
	"delete delay": same, "limit": handled,
	// play media and the multi-party commands hush does not implement
	"file": warn, "blob": warn, "blob64": warn, "db id": warn, "repeat times": warn, "repeat duration": warn,
	"start pos": warn, "source tag": warn, "source call id": warn, "to call id": warn, "calls": warn,
	"tags": warn, "medias": warn,
	// hush's own
	"hush customer": handled, "hush agent id": handled, "hush mask to agent": handled,
	"hush mask to customer": handled, "hush capture": handled, "hush extra media": handled,
}

// flagRules: entries of the "flags" list, normalized.
var flagRules = map[string]act{
	"trust address": same, "symmetric": same, "asymmetric": same, "strict source": same, "unidirectional": same,
	"port latching": same, "no port latching": same, "original sendrecv": same, "detect dtmf": same,
	"sip source address": handled, "media handover": handled, "record call": handled,
	"block dtmf": handled, "reject ice": handled, "full rtcp attribute": handled, "no rtcp attribute": handled,
	"directional": handled, "all": handled, "fatal": handled, "fast": handled, "to tag": handled, "pause": handled,
	"webrtc": refuse, "exclude recording": handled, "discard recording": refuse,
	"skip recording db": same, "no redis update": same, "provisional": same, "new branch": same,
	"allow asymmetric codecs": warn, "allow no codec media": warn, "allow transcoding": warn,
	"force transcoding": warn, "always transcode": warn, "bidirectional": warn, "block egress": warn,
	"block short": warn, "block short packets": warn, "debug": warn, "debugging": warn, "early media": warn,
	"fragment": warn, "generate rtcp": warn, "generate mid": warn, "inactive": warn, "inject dtmf": warn,
	"loop protect": warn, "mix": warn, "nat wait": warn, "no tls id": warn, "pad crypto": warn,
	"pierce nat": warn, "recording announcement": warn, "recrypt": warn, "reset": warn, "reuse codecs": warn,
	"no codec renegotiation": warn, "rtcp mirror": warn, "single codec": warn, "static codecs": warn,
	"strip extmap": warn, "trickle ice": warn, "internal": warn, "external": warn,
	"rtp/avp": handled, "rtp/avpf": handled, "rtp/savp": refuse, "rtp/savpf": refuse,
	"udp/tls/rtp/savp": refuse, "udp/tls/rtp/savpf": refuse, "rtp": same, "avp": same, "avpf": same, "srtp": refuse,
	"dtls": refuse,
}

// flagPrefixes: flags that carry a value after a prefix ("SDES-off", "codec-strip-PCMA").
var flagPrefixes = []struct {
	prefix string
	act    act
}{
	{"sdes ", handled}, {"osrtp ", handled}, {"codec ", warn}, {"endpoint learning ", handled},
	{"from tags ", warn}, {"sdp attr ", warn}, {"rtcp mux ", handled}, {"replace ", handled},
	{"ice ", handled}, {"t.38 ", warn}, {"dtls ", handled},
}

// commandRules: commands of the protocol. handled commands have a handler; the others
// fail with ErrUnsupported naming the command.
var commandRules = map[string]act{
	"ping": handled, "offer": handled, "answer": handled, "delete": handled, "query": handled, "list": handled,
	"statistics": handled, "start recording": handled, "stop recording": handled, "pause recording": handled,
	"block dtmf": handled, "unblock dtmf": handled, "block media": handled, "unblock media": handled,
	"silence media": handled, "unsilence media": handled, "play dtmf": handled,
	"start forwarding": refuse, "stop forwarding": refuse, "play media": refuse, "stop media": refuse,
	"publish": refuse, "subscribe request": refuse, "subscribe answer": refuse, "unsubscribe": refuse,
	"inject start": refuse, "inject stop": refuse, "connect": refuse, "create": refuse,
	"create answer": refuse, "mesh": refuse,
}

// flagRule finds a flag's rule, by name or by prefix.
func flagRule(f string) (act, string, bool) {
	if a, ok := flagRules[f]; ok {
		return a, f, true
	}
	for _, p := range flagPrefixes {
		if len(f) > len(p.prefix) && f[:len(p.prefix)] == p.prefix {
			return p.act, p.prefix, true
		}
	}
	return warn, "", false
}

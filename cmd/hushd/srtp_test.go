package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	psrtp "github.com/pion/srtp/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/srtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// SRTP end to end through hushd: one leg SRTP (a phone built on pion/srtp alone), the
// other plain, both directions at real pacing; the customer keys digits in-band and what
// the agent hears is judged by multimon-ng after decryption.

var pionProfiles = map[srtp.Suite]psrtp.ProtectionProfile{
	srtp.AES128CMSHA1_80: psrtp.ProtectionProfileAes128CmHmacSha1_80,
	srtp.AES128CMSHA1_32: psrtp.ProtectionProfileAes128CmHmacSha1_32,
	srtp.AEADAES128GCM:   psrtp.ProtectionProfileAeadAes128Gcm,
	srtp.AEADAES256GCM:   psrtp.ProtectionProfileAeadAes256Gcm,
}

// phoneCtx is a phone's pion context for one key.
func phoneCtx(t *testing.T, k srtp.Key) *psrtp.Context {
	t.Helper()
	m := k.Material()
	kl := 16
	if k.Suite() == srtp.AEADAES256GCM {
		kl = 32
	}
	c, err := psrtp.CreateContext(m[:kl], m[kl:], pionProfiles[k.Suite()])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t *testing.T, s srtp.Suite) srtp.Key {
	t.Helper()
	k, err := srtp.GenerateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealStream returns a copy of s whose packets are encrypted with c.
func sealStream(t *testing.T, c *psrtp.Context, s *phoneStream) *phoneStream {
	t.Helper()
	out := *s
	out.ticks = make([][][]byte, len(s.ticks))
	for i, tk := range s.ticks {
		for _, p := range tk {
			b, err := c.EncryptRTP(nil, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			out.ticks[i] = append(out.ticks[i], b)
		}
	}
	return &out
}

// openAll decrypts what a phone received.
func openAll(c *psrtp.Context, got []rxPacket) ([][]byte, error) {
	out := make([][]byte, len(got))
	for i, g := range got {
		b, err := c.DecryptRTP(nil, g.pkt, nil)
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", i, err)
		}
		out[i] = b
	}
	return out, nil
}

// srtpCall is a maskCall with its keys: which leg is SRTP, the phone's key and hush's.
type srtpCall struct {
	*maskCall
	suite                srtp.Suite
	agentSRTP            bool // else the customer's leg is SRTP
	phoneKey, hushKey    srtp.Key
	plainCust, plainAgnt *phoneStream
}

func TestSRTPEndToEnd(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	dir := t.TempDir()
	recDir, keyFile := filepath.Join(dir, "recordings"), filepath.Join(dir, "recording.kek")
	d := startDaemon(t, "--recording-enabled=true", "--recording-dir", recDir, "--recording-key-file", keyFile, "--log-level", "debug")
	var calls []*srtpCall
	const gap = 250 * audioPerMs
	for j, cd := range []struct {
		suite     srtp.Suite
		agentSRTP bool
	}{
		{srtp.AES128CMSHA1_80, false}, {srtp.AES128CMSHA1_32, true},
		{srtp.AEADAES128GCM, false}, {srtp.AEADAES256GCM, true},
	} {
		r := rand.New(rand.NewPCG(uint64(j)+9, 19))
		c := &srtpCall{suite: cd.suite, agentSRTP: cd.agentSRTP, phoneKey: newKey(t, cd.suite), hushKey: newKey(t, cd.suite),
			maskCall: &maskCall{cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0")}}
		side := "customer"
		if cd.agentSRTP {
			side = "agent"
		}
		c.name = cd.suite.String() + "/" + side
		at := gap
		for k := range 4 {
			b := keyBurst{key: allKeys[(4*j+k)%16], at: at + (k*53+j*31)%audioFrame, dur: (60 + 20*k) * audioPerMs, dbm0: -12}
			c.bursts = append(c.bursts, b)
			at = b.at + b.dur + gap
		}
		c.n = (at + gap) / audioFrame * audioFrame
		ssrc := 0x5e7e0000 + uint32(j)
		c.plainCust = packetizeG711(audioPCMU, ssrc, uint16(65520+j), 0xfffff000, speechWithBursts(promptSpeech(t, c.n, (j*7+3)*audioRate), c.bursts, r))
		c.plainAgnt = packetizeG711(audioPCMU, ^ssrc, uint16(j*100), uint32(j)<<16, speechWithBursts(promptSpeech(t, c.n, (j*7+90)*audioRate), nil, r))
		c.fromCust, c.fromAgent = c.plainCust, c.plainAgnt
		keys := &hushv1.Srtp{Suite: hushv1.SrtpSuite(cd.suite), RemoteKey: c.phoneKey.Material(), LocalKey: c.hushKey.Material()}
		cust := &hushv1.Leg{RemoteAddr: c.cust.addr().String()}
		agent := &hushv1.Leg{RemoteAddr: c.agent.addr().String()}
		if cd.agentSRTP {
			agent.Srtp = keys
			c.fromAgent = sealStream(t, phoneCtx(t, c.phoneKey), c.plainAgnt)
		} else {
			cust.Srtp = keys
			c.fromCust = sealStream(t, phoneCtx(t, c.phoneKey), c.plainCust)
		}
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
			CallId: "srtp-" + c.name, Customer: cust, Agent: agent,
			Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_TONE}},
		})
		if err != nil {
			t.Fatal(err)
		}
		sl := s.GetCustomer().GetSrtp()
		if cd.agentSRTP {
			sl = s.GetAgent().GetSrtp()
		}
		if sl.GetRemoteKeyFingerprint() != c.phoneKey.Fingerprint() || len(sl.GetRemoteKey()) != 0 || len(sl.GetLocalKey()) != 0 {
			t.Fatalf("%s: the answer's srtp: %v", c.name, sl)
		}
		c.s = s
		calls = append(calls, c)
	}
	var mcs []*maskCall
	for _, c := range calls {
		mcs = append(mcs, c.maskCall)
	}
	playCalls(mcs)

	changedAll := 0 // samples outside the tones that did not reach the agent unchanged
	for i, c := range calls {
		for _, err := range c.errs {
			t.Errorf("%s: %v", c.name, err)
		}
		if len(c.errs) > 0 {
			continue
		}
		atAgent, atCust := datagrams(c.atAgent), datagrams(c.atCust)
		var err error
		if c.agentSRTP {
			atAgent, err = openAll(phoneCtx(t, c.hushKey), c.atAgent)
		} else {
			atCust, err = openAll(phoneCtx(t, c.hushKey), c.atCust)
		}
		if err != nil {
			t.Errorf("%s: the SRTP phone cannot open what hush sent it: %v", c.name, err)
			continue
		}
		// Unmasked toward the customer: the agent's packets, decrypted or encrypted on the
		// way, arrive byte for byte as the agent's phone made them.
		if len(atCust) != len(c.plainAgnt.audio) {
			t.Errorf("%s: the customer got %d packets of %d", c.name, len(atCust), len(c.plainAgnt.audio))
		}
		for k := range min(len(atCust), len(c.plainAgnt.audio)) {
			if !bytes.Equal(atCust[k], c.plainAgnt.audio[k]) {
				t.Errorf("%s: agent->customer packet %d differs", c.name, k)
				break
			}
		}
		if len(atAgent) != len(c.plainCust.audio) {
			t.Errorf("%s: the agent got %d packets of %d", c.name, len(atAgent), len(c.plainCust.audio))
		}
		want := ""
		for _, b := range c.bursts {
			want += string(b.key)
		}
		in := decodeByTimestamp(c.plainCust.audio, c.plainCust.ts0, c.n)
		name := fmt.Sprintf("srtp%d", i)
		if got := multimonDigits(t, dir, name+"_in", in); got != want {
			t.Errorf("%s: multimon-ng finds %q in the input, want %q", c.name, got, want)
		}
		out := decodeByTimestamp(atAgent, c.plainCust.ts0, c.n)
		if heard := multimonDigits(t, dir, name+"_agent", out); heard != "" {
			t.Errorf("%s: multimon-ng finds %d digits in what the agent heard", c.name, len(heard))
		}
		if same := sameOutsideTones(in, out, c.bursts); same < 0.99 {
			t.Errorf("%s: only %.1f%% of the customer's audio outside the tones reached the agent unchanged or notched", c.name, 100*same)
		}
		// Outside the guard around each tone nothing changes but where the notch took the
		// DTMF bands out: accounted against hush_notched_seconds_total below, as
		// TestMaskingMatrix does.
		changed := changedOutsideTones(in, out, c.bursts)
		changedAll += changed
		t.Logf("%s: %d samples outside the tones notched, %.1f%% unchanged", c.name, changed, 100*sameOutsideTones(in, out, c.bursts))
	}
	if v := d.metric(`hush_notched_seconds_total{direction="customer_to_agent"}`); float64(changedAll) > v*audioRate+0.5 {
		t.Errorf("%d samples of the customer's audio outside the tones changed, %.0f notched", changedAll, v*audioRate)
	}

	// The recordings hold the decrypted audio, masked: end the calls and read them.
	var answers []*hushv1.Session
	for i, c := range calls {
		got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: c.s.SessionId})
		if err != nil {
			t.Fatal(err)
		}
		ended, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: c.s.SessionId})
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, c.s, got, ended)
		wavs, _ := filepath.Glob(filepath.Join(recDir, "*", "*", "*", c.s.RecordingId+".wav"))
		if len(wavs) != 1 {
			t.Errorf("%s: recording %v", c.name, wavs)
			continue
		}
		sealed, err := os.ReadFile(wavs[0])
		if err != nil {
			t.Fatal(err)
		}
		_, wav := unsealed(t, wavs[0], sealed, keyFile)
		ch, err := dtmftest.ReadWAV(wav)
		if err != nil || len(ch) != 2 {
			t.Fatalf("%s: %v", c.name, err)
		}
		name := fmt.Sprintf("srtp%d_rec", i)
		if got := multimonDigits(t, dir, name, ch[0]); got != "" {
			t.Errorf("%s: multimon-ng finds %d digits in the recording", c.name, len(got))
		}
		in := decodeByTimestamp(c.plainCust.audio, c.plainCust.ts0, c.n)
		if best := recMatch(in, ch[0], c.bursts); best < 0.9 {
			t.Errorf("%s: the recording's customer channel matches the decrypted input at %.1f%% at best", c.name, 100*best)
		}
		ag := decodeByTimestamp(c.plainAgnt.audio, c.plainAgnt.ts0, c.n)
		if best := recMatch(ag, ch[1], nil); best < 0.9 {
			t.Errorf("%s: the recording's agent channel matches the decrypted input at %.1f%% at best", c.name, 100*best)
		}
	}
	checkNoKeys(t, d, dir, calls, answers)
}

// sameOutsideTones is the share of 10 ms frames clear of every burst that reached out as
// the same audio: unchanged, or correlated with the input at 0.5 or more, which is what the
// notch leaves where it takes DTMF bands out of speech (it removes part of the signal and
// adds nothing). Audio decrypted with a wrong key, or replaced by a mask, is uncorrelated
// with the input.
func sameOutsideTones(in, out []int16, bursts []keyBurst) float64 {
	const frame = 10 * audioPerMs
	n, same := 0, 0
	for f := 0; f+frame <= min(len(in), len(out)); f += frame {
		near := false
		for _, b := range bursts {
			near = near || b.near(f) || b.near(f+frame-1) || f <= b.at && b.at < f+frame
		}
		if near {
			continue
		}
		n++
		var x, y, xy float64
		equal := true
		for j := f; j < f+frame; j++ {
			a, b := float64(in[j]), float64(out[j])
			x, y, xy = x+a*a, y+b*b, xy+a*b
			equal = equal && in[j] == out[j]
		}
		if equal || x > 0 && y > 0 && xy >= 0.5*math.Sqrt(x*y) {
			same++
		}
	}
	return float64(same) / float64(max(n, 1))
}

// changedOutsideTones counts the samples away from every burst that differ.
func changedOutsideTones(in, out []int16, bursts []keyBurst) int {
	n := 0
	for j := range in {
		near := false
		for _, b := range bursts {
			near = near || b.near(j)
		}
		if !near && j < len(out) && in[j] != out[j] {
			n++
		}
	}
	return n
}

// recMatch is sameOutsideTones of a recording channel against the input, from the
// channel's anchor (each leg's audio is placed by its RTP timestamps from its first packet).
func recMatch(in, rec []int16, bursts []keyBurst) float64 {
	a, b := firstNonZero(rec), firstNonZero(in)
	if a < 0 || b < 0 || a < b {
		return 0
	}
	shifted := make([]int16, len(in))
	copy(shifted, rec[a-b:])
	return sameOutsideTones(in, shifted, bursts)
}

// checkNoKeys: no key material, in any encoding, in what hushd wrote (its log at debug
// level, the audit log, the recordings and their index), in its metrics, or in its answers
// (CreateSession, GetSession, DeleteSession, ListSessions).
func checkNoKeys(t *testing.T, d *daemon, dir string, calls []*srtpCall, answers []*hushv1.Session) {
	t.Helper()
	var forms [][]byte
	for _, c := range calls {
		for _, k := range []srtp.Key{c.phoneKey, c.hushKey} {
			m := k.Material()
			forms = append(forms, m, []byte(base64.StdEncoding.EncodeToString(m)), []byte(base64.RawStdEncoding.EncodeToString(m)[:24]),
				[]byte(hex.EncodeToString(m)[:24]), []byte(strings.ToUpper(hex.EncodeToString(m)[:24])), []byte(base64.URLEncoding.EncodeToString(m)[:24]))
		}
	}
	var blobs []struct {
		what string
		b    []byte
	}
	add := func(what string, b []byte) {
		blobs = append(blobs, struct {
			what string
			b    []byte
		}{what, b})
	}
	add("hushd's log", []byte(d.log.String()))
	_ = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if b, err := os.ReadFile(path); err == nil {
				add(path, b)
			}
		}
		return nil
	})
	for _, s := range answers {
		js, _ := protojson.Marshal(s)
		add("a session answer", js)
	}
	ls, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{})
	if err == nil {
		js, _ := protojson.Marshal(ls)
		add("ListSessions", js)
	}
	resp, err := http.Get("http://" + d.ready.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	add("metrics", mb)
	for _, b := range blobs {
		for _, f := range forms {
			if bytes.Contains(b.b, f) {
				t.Errorf("key material in %s", b.what)
				break
			}
		}
	}
	t.Logf("no key material in %d things hushd wrote or answered (%d bytes of log)", len(blobs), len(d.log.String()))
}

// TestSRTPRefusesForgedAndReplayed: on an SRTP leg, a packet under a wrong key, a replayed
// one and one with a truncated tag are dropped and counted, and nothing of them reaches
// the other party; packets that do not authenticate never latch the leg.
func TestSRTPRefusesForgedAndReplayed(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	for _, suite := range []srtp.Suite{srtp.AES128CMSHA1_80, srtp.AEADAES128GCM} {
		t.Run(suite.String(), func(t *testing.T) {
			phoneKey, hushKey := newKey(t, suite), newKey(t, suite)
			cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
			s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
				CallId: "forged-" + suite.String(),
				// No remote: the customer's leg latches, after 3 packets that authenticate.
				Customer: &hushv1.Leg{Srtp: &hushv1.Srtp{Suite: hushv1.SrtpSuite(suite), RemoteKey: phoneKey.Material(), LocalKey: hushKey.Material()}},
				Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
				Policy:   &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}},
			})
			if err != nil {
				t.Fatal(err)
			}
			phone, forger := phoneCtx(t, phoneKey), phoneCtx(t, newKey(t, suite))
			plain := packetizeG711(audioPCMU, 0xf0f0, 100, 0, make([]int16, 12*audioFrame)).audio
			seal := func(c *psrtp.Context, p []byte) []byte {
				b, err := c.EncryptRTP(nil, p, nil)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			to := s.Customer.LocalAddr
			for _, p := range plain[:3] { // forged, from the phone's own address
				cust.send(to, seal(forger, p))
			}
			var kept []byte
			for i, p := range plain[3:6] {
				b := seal(phone, p)
				if i == 2 {
					kept = append([]byte(nil), b...)
				}
				cust.send(to, b)
			}
			got, _ := agent.recv() // the third genuine packet latched the leg and passed
			if !bytes.Equal(got, plain[5]) {
				t.Fatalf("the agent got % x, want the third genuine packet", got[:12])
			}
			cust.send(to, seal(forger, plain[6])) // wrong key
			cust.send(to, kept)                   // replayed
			tr := seal(phone, plain[7])           // truncated tag
			cust.send(to, tr[:len(tr)-2])         //
			cust.send(to, seal(phone, plain[8]))  // genuine: the next thing the agent gets
			if got, _ := agent.recv(); !bytes.Equal(got, plain[8]) {
				t.Fatalf("the agent got % x, want the next genuine packet", got[:12])
			}
			if agent.pending() {
				t.Fatal("the agent got more")
			}
			g, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
			if err != nil {
				t.Fatal(err)
			}
			st := g.GetCustomer().GetStats()
			if st.GetSrtpUnauthenticated() != 5 || st.GetSrtpReplayed() != 1 || !g.GetCustomer().GetLatched() {
				t.Errorf("stats %v, latched %v", st, g.GetCustomer().GetLatched())
			}
		})
	}
	if v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="srtp_auth"}`); v != 10 {
		t.Errorf("srtp_auth drops: %v", v)
	}
	if v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="srtp_replay"}`); v != 2 {
		t.Errorf("srtp_replay drops: %v", v)
	}
}

// TestSRTPKeysNotInLogsOverSDP: SDES over ng and gRPC Offer/Answer, at debug level, with
// refused requests too (a key hush cannot use, a mismatched answer, an SDP that does not
// parse around an a=crypto line): the keys reach only the SDP meant for their party, never
// hushd's log, its audit log or a session answer.
func TestSRTPKeysNotInLogsOverSDP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0", "--log-level", "debug", "--audit-file", filepath.Join(dir, "audit.jsonl"))
	c := d.ng()
	savp := func(addr string, lines ...string) string {
		s := strings.Replace(sdpFor(netip.MustParseAddrPort(addr)), "RTP/AVP", "RTP/SAVP", 1)
		for _, l := range lines {
			s += "a=crypto:" + l + "\r\n"
		}
		return s
	}
	caller, callee := newKey(t, srtp.AES128CMSHA1_80), newKey(t, srtp.AES128CMSHA1_80)
	bad := newKey(t, srtp.AEADAES256GCM)
	var forms []string
	for _, k := range []srtp.Key{caller, callee, bad} {
		forms = append(forms, k.Inline(), base64.RawStdEncoding.EncodeToString(k.Material())[:24], hex.EncodeToString(k.Material())[:24])
	}
	off := c.call(map[string]any{"command": "offer", "call-id": "sdes-1", "from-tag": "a",
		"sdp": savp("127.0.0.1:4000", srtp.Crypto{Tag: 1, Key: caller}.Value()), "transport-protocol": "RTP/AVP"})
	if off["result"] != "ok" || strings.Contains(off["sdp"].(string), caller.Inline()) {
		t.Fatalf("offer: %v", off)
	}
	// Refused: an answer whose crypto matches nothing hush offered (it offered none), a
	// line with an MKI, a body that does not parse after an a=crypto line.
	for _, req := range []map[string]any{
		{"command": "answer", "call-id": "sdes-1", "from-tag": "a", "to-tag": "b", "sdp": savp("127.0.0.1:4002", srtp.Crypto{Tag: 1, Key: callee}.Value())},
		{"command": "offer", "call-id": "sdes-2", "from-tag": "a", "sdp": savp("127.0.0.1:4000", "1 AEAD_AES_256_GCM inline:"+bad.Inline()+"|2^31|1:4")},
		{"command": "offer", "call-id": "sdes-3", "from-tag": "a", "sdp": savp("127.0.0.1:4000", srtp.Crypto{Tag: 1, Key: bad}.Value()) + "m=audio x\r\n"},
	} {
		if r := c.call(req); r["result"] != "error" {
			t.Fatalf("%v: %v", req["call-id"], r)
		} else if reason, _ := r["error-reason"].(string); containsAny(reason, forms) {
			t.Fatalf("the error quotes a key: %s", reason)
		}
	}
	ans := c.call(map[string]any{"command": "answer", "call-id": "sdes-1", "from-tag": "a", "to-tag": "b", "sdp": sdpFor(netip.MustParseAddrPort("127.0.0.1:4002"))})
	if ans["result"] != "ok" || !strings.Contains(ans["sdp"].(string), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("answer: %v", ans)
	}
	// gRPC Offer and Answer: an SRTP agent phone behind a plain trunk.
	g, err := d.session.Offer(d.ctx(), &hushv1.OfferRequest{CallId: "sdes-4", FromTag: "a", Sdp: sdpFor(netip.MustParseAddrPort("127.0.0.1:4004")),
		TransportProtocol: "RTP/SAVP"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := srtp.ParseCrypto(strings.TrimSpace(strings.SplitN(strings.SplitN(g.GetSdp(), "a=crypto:", 2)[1], "\r\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	forms = append(forms, first.Key.Inline())
	phone := srtp.Crypto{Tag: first.Tag, Key: newKey(t, first.Suite())}
	forms = append(forms, phone.Key.Inline())
	ga, err := d.session.Answer(d.ctx(), &hushv1.AnswerRequest{CallId: "sdes-4", FromTag: "a", ToTag: "b", Sdp: savp("127.0.0.1:4006", phone.Value())})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := protojson.Marshal(ga.GetSession())
	audit, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	for what, b := range map[string]string{"hushd's log": d.log.String(), "the audit log": string(audit), "the session answer": string(js)} {
		if containsAny(b, forms) {
			t.Errorf("key material in %s", what)
		}
	}
	if fp := ga.GetSession().GetAgent().GetSrtp().GetRemoteKeyFingerprint(); fp != phone.Key.Fingerprint() {
		t.Errorf("agent leg fingerprint %q, want %q", fp, phone.Key.Fingerprint())
	}
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

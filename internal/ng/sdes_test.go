package ng

import (
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/srtp"
)

// TestSDESOverNG: an SRTP phone behind Kamailio (rtpp_flags as its rtpengine module sends
// them) calls a plain RTP agent: transport-protocol=RTP/AVP makes the agent's side
// plain, SDES flags shape what hush offers, and hush answers the phone with its own key.
func TestSDESOverNG(t *testing.T) {
	h := newHarness(t)
	k, err := srtp.GenerateKey(srtp.AES128CMSHA1_32)
	if err != nil {
		t.Fatal(err)
	}
	phone := srtp.Crypto{Tag: 7, Key: k}
	body := strings.Replace(phoneSDP("192.0.2.10:4000", "a=crypto:"+phone.Value()), "RTP/AVP", "RTP/SAVP", 1)
	out := h.ok(kamailioOffer("c1", "a", body, map[string]any{"rtpp_flags": "transport-protocol=RTP/AVP SDES-pad SDES-no-AEAD_AES_256_GCM"}))
	off := out["sdp"].(string)
	if strings.Contains(off, "a=crypto") || strings.Contains(off, k.Inline()) || !strings.Contains(off, " RTP/AVP ") {
		t.Fatalf("offer to the agent:\n%s", off)
	}
	ans := h.ok(kamailioAnswer("c1", "a", "b", phoneSDP("192.0.2.20:5000"), nil))["sdp"].(string)
	d, err := sdp.Parse([]byte(ans))
	if err != nil {
		t.Fatal(err)
	}
	m := d.Media[0]
	info := h.session("c1")
	if m.Proto != "RTP/SAVP" || len(m.Crypto) != 1 {
		t.Fatalf("answer to the phone:\n%s", ans)
	}
	c, err := srtp.ParseCrypto(m.Crypto[0])
	if err != nil || c.Tag != 7 || c.Suite() != srtp.AES128CMSHA1_32 || !c.Key.Equal(info.Customer.SRTP.Send) || !info.Customer.SRTP.Recv.Equal(k) {
		t.Fatalf("hush's answer %v, %v; leg %v", c, err, info.Customer.SRTP)
	}

	// A plain trunk toward an SRTP agent, with the flag forms and a suite left out.
	out = h.ok(kamailioOffer("c2", "a", phoneSDP("192.0.2.10:4000"), map[string]any{"flags": []any{"SRTP", "SDES-no-AES_CM_128_HMAC_SHA1_32", "SDES-only-AES_CM_128_HMAC_SHA1_80"}}))
	d, _ = sdp.Parse([]byte(out["sdp"].(string)))
	if d.Media[0].Proto != "RTP/SAVP" || len(d.Media[0].Crypto) != 1 || !strings.Contains(d.Media[0].Crypto[0], "AES_CM_128_HMAC_SHA1_80") {
		t.Fatalf("offer to the agent: %v %v", d.Media[0].Proto, d.Media[0].Crypto)
	}
	if info := h.session("c2"); info.Agent.SRTP == nil || info.Customer.SRTP != nil {
		t.Fatalf("legs %v %v", info.Customer.SRTP, info.Agent.SRTP)
	}

	// Refused: unencrypted SRTP, DTLS.
	for _, bad := range []map[string]any{
		kamailioOffer("c3", "a", phoneSDP("192.0.2.10:4000"), map[string]any{"SDES": []any{"unencrypted_srtp"}, "transport-protocol": "RTP/SAVP"}),
		kamailioOffer("c4", "a", phoneSDP("192.0.2.10:4000"), map[string]any{"flags": []any{"DTLS"}}),
		kamailioOffer("c5", "a", phoneSDP("192.0.2.10:4000"), map[string]any{"transport-protocol": "RTP/SAVP", "SDES": []any{"off"}}),
	} {
		if r := h.send(bad); r["result"] != "error" {
			t.Errorf("%v: %v", bad, r)
		}
	}
	_ = session.Customer
}

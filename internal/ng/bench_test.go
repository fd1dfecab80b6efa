package ng

import (
	"fmt"
	"testing"
)

// BenchmarkOfferAnswerDelete is one call's signalling through the server's whole control
// path (decode, flags, offer/answer engine, registry, SDP parse and rewrite, encode), on
// a fake media layer: what hush's ng side costs per call, without sockets.
func BenchmarkOfferAnswerDelete(b *testing.B) {
	h := newHarness(&testing.T{})
	offerBody, answerBody := phoneSDP("192.0.2.10:4000"), phoneSDP("192.0.2.20:5000")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprint("bench-", i)
		for j, d := range []map[string]any{
			kamailioOffer(id, "tagA", offerBody, nil),
			kamailioAnswer(id, "tagA", "tagB", answerBody, nil),
			{"command": "delete", "call-id": id, "from-tag": "tagA"},
		} {
			msg, _ := AppendMessage(nil, fmt.Sprint(i, "_", j), d)
			if reply := h.srv.Handle(kamailio, msg); reply == nil {
				b.Fatal("no reply")
			}
		}
	}
	if h.reg.Len() != 0 {
		b.Fatalf("%d sessions left", h.reg.Len())
	}
}

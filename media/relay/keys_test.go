package relay

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestWatchKeys: a direction whose keys are watched (keypad triggers on the agent's side)
// delivers each key press once to the digit callback while its packets are still
// forwarded at once and byte for byte; without WatchKeys an unmasked direction delivers
// nothing.
func TestWatchKeys(t *testing.T) { forEngines(t, testWatchKeysOnEngine) }

func testWatchKeysOnEngine(t *testing.T) {
	for _, watch := range []bool{true, false} {
		e := newEnv(t, lo4, false, false)
		digits := make(chan DigitEvent, 16)
		c := e.start(e.explicit(), WithDigits(func(d DigitEvent) {
			select {
			case digits <- d:
			default:
			}
		}))
		if watch {
			if err := c.WatchKeys(AgentToCustomer); err != nil {
				t.Fatal(err)
			}
		}
		r := rand.New(rand.NewPCG(5, 6))
		sig := make([]float64, 60*sFrame)
		tone{key: '*', at: 10*sFrame + 37, dur: 80 * sMs, dbm0: -10}.add(sig, r)
		tone{key: '7', at: 30*sFrame + 91, dur: 80 * sMs, dbm0: -10}.add(sig, r)
		st := &g711Stream{pt: 0, ssrc: 0xa9e47, seq: 100, ts: 8000}
		pkts := st.all(toPCM(sig))
		// Agent -> customer: sent from the agent peer (e.b) to the call's agent port.
		for i, p := range pkts {
			send(t, e.b.s.RTP, c.LocalRTP(Agent), p)
			got, _ := recv(t, e.a.s.RTP)
			if !bytes.Equal(got, p) {
				t.Fatalf("watch=%v: packet %d not forwarded byte-exact", watch, i)
			}
		}
		// The detector ran on each packet before it was forwarded, so every key press was
		// delivered by the time the last packet arrived.
		var keys []byte
		for len(digits) > 0 {
			d := <-digits
			if d.Dir != AgentToCustomer {
				t.Fatalf("digit from %v", d.Dir)
			}
			keys = append(keys, d.Digit)
		}
		if watch && string(keys) != "*7" {
			t.Fatalf("watched keys: got %q, want *7", keys)
		}
		if !watch && len(keys) != 0 {
			t.Fatalf("unwatched direction delivered %d keys", len(keys))
		}
	}
}

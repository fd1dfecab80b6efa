package loadgen

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestChurnAgainstFakeNG(t *testing.T) {
	r := NewNG("hush", fakeNG(t), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := netip.MustParseAddrPort("127.0.0.1:5000")
	st := churn(ctx, r, 40, 3, a, a)
	if st.setup.Count() != 40 || st.teardown.Count() != 40 || st.failed != 0 {
		t.Fatalf("%d setups, %d teardowns, %d failed", st.setup.Count(), st.teardown.Count(), st.failed)
	}
	var res Result
	st.fill(&res, time.Second)
	if res.ChurnCalls != 40 || res.ChurnSetupP99 <= 0 || res.ChurnSetupP99 < res.ChurnSetupP50 || res.ChurnSetupMax < res.ChurnSetupP99 {
		t.Fatalf("%+v", res)
	}
	if r.Name() != "hush" || r.Control() != "ng" {
		t.Fatal("name")
	}
	// A relay that answers nothing: every setup fails, none hangs past its deadline.
	dead := NewNG("dead", netip.MustParseAddrPort("127.0.0.1:9"), 0)
	dead.wait = 20 * time.Millisecond
	if st := churn(ctx, dead, 3, 2, a, a); st.failed != 3 || st.setup.Count() != 0 {
		t.Fatalf("%+v", st.failed)
	}
}

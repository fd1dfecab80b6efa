package loadgen

import (
	"cmp"
	"context"
	"net/netip"
	"sync"
	"time"
)

// churn sets up and tears down n calls on t, conc at a time, while the load's calls
// stream: what a platform's signalling does to a relay that is busy forwarding. Each
// setup (for an ng target: offer and answer) and each teardown is timed. The calls carry
// no media; their addresses are the generator's, which they never send to.
func churn(ctx context.Context, t Target, n, conc int, customer, agent netip.AddrPort) churnStats {
	var mu sync.Mutex
	var st churnStats
	next := 0
	var wg sync.WaitGroup
	for range max(1, conc) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var setup, teardown Histogram
			failed := 0
			var firstErr error
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n || ctx.Err() != nil {
					break
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				t0 := time.Now()
				c, err := t.CreateCall(cctx, 1_000_000+i, customer, agent)
				t1 := time.Now()
				if err != nil {
					failed++
					firstErr = cmp.Or(firstErr, err)
					cancel()
					continue
				}
				setup.Record(int64(t1.Sub(t0)))
				err = c.Close(cctx)
				teardown.Record(int64(time.Since(t1)))
				if err != nil {
					failed++
					firstErr = cmp.Or(firstErr, err)
				}
				cancel()
			}
			mu.Lock()
			st.setup.Merge(&setup)
			st.teardown.Merge(&teardown)
			st.failed += failed
			if st.err == nil {
				st.err = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return st
}

type churnStats struct {
	setup, teardown Histogram
	failed          int
	err             error // the first failure
}

// fill puts the churn's figures into a result.
func (st *churnStats) fill(r *Result, took time.Duration) {
	r.ChurnCalls = int(st.setup.Count())
	r.ChurnFailed = st.failed
	if st.err != nil {
		r.ChurnError = st.err.Error()
	}
	r.ChurnSeconds = took.Seconds()
	r.ChurnSetupP50 = us(st.setup.Quantile(0.5))
	r.ChurnSetupP99 = us(st.setup.Quantile(0.99))
	r.ChurnSetupMax = us(st.setup.Max())
	r.ChurnTeardownP99 = us(st.teardown.Quantile(0.99))
}

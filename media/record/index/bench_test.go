package index

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hushmedia/hush/media/record"
)

// The benchmark index: 1,000,000 recordings over about 3 years (one every ~95 s), 200
// agents, 20 queues, built once per test binary into a temporary directory (about a
// minute on the 2-core VM) and removed when the binary exits.
const benchN = 1_000_000

var bench struct {
	once sync.Once
	dir  string
	x    *Index
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.x != nil {
		bench.x.Close()
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

func benchSidecar(i int) record.Sidecar {
	id := fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
	return record.Sidecar{
		Version: 1, RecordingID: id, SessionID: id, CallID: fmt.Sprintf("%x@pbx-%d", i, i%7),
		AgentID: fmt.Sprintf("agent-%03d", i%200), Labels: map[string]string{"queue": fmt.Sprintf("q%02d", i%20)},
		Status: record.StatusComplete, Content: record.ContentFull, Revision: 3,
		Start: t0.Add(-time.Duration(i) * 95 * time.Second), End: t0.Add(-time.Duration(i)*95*time.Second + 3*time.Minute),
		DurationSamples: 180 * 8000, FileSamples: 180 * 8000, Size: 44 + 180*8000*4,
		SHA256: fmt.Sprintf("%064x", i), SampleRate: record.SampleRate, BitsPerSample: record.BitsPerSample,
		Channels: []string{"customer", "agent"}, WAV: id + ".wav",
	}
}

func benchIndex(b *testing.B) *Index {
	b.Helper()
	bench.once.Do(func() {
		t := time.Now()
		bench.dir, bench.err = os.MkdirTemp("", "hush-index-bench-")
		if bench.err != nil {
			return
		}
		var x *Index
		x, _, bench.err = Open(context.Background(), bench.dir)
		if bench.err != nil {
			return
		}
		bench.x = x
		x.db.NoSync = true // a benchmark fixture: no fsync per transaction
		// Each bucket filled in key order, from full pages: bbolt appends instead of
		// rewriting pages all over the tree (random ids put one by one take ten times
		// as long and twice the space).
		type kv struct{ k, v []byte }
		put := map[string][]kv{}
		for i := range benchN {
			sc := benchSidecar(i)
			s := toStored(record.DateDir(sc.Start), &sc)
			v, err := s.marshal()
			if err != nil {
				bench.err = err
				return
			}
			put[string(bRecs)] = append(put[string(bRecs)], kv{[]byte(sc.RecordingID), v})
			sk := sortKey(s.Start, sc.RecordingID)
			put[string(bStart)] = append(put[string(bStart)], kv{sk, nil})
			put[string(bCall)] = append(put[string(bCall)], kv{join(callPrefix(s.Call), sk), nil})
			put[string(bAgent)] = append(put[string(bAgent)], kv{join(agentPrefix(s.Agent), sk), nil})
			for k, v := range s.Labels {
				put[string(bLabel)] = append(put[string(bLabel)], kv{join(labelPrefix(k, v), sk), nil})
			}
			put[string(bDir)] = append(put[string(bDir)], kv{join(dirPrefix(s.Dir), []byte(sc.RecordingID)), nil})
		}
		const perTx = 200_000
		for name, kvs := range put {
			slices.SortFunc(kvs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
			for lo := 0; lo < len(kvs) && bench.err == nil; lo += perTx {
				bench.err = x.db.Update(func(tx *bolt.Tx) error {
					b := tx.Bucket([]byte(name))
					b.FillPercent = 1
					for _, e := range kvs[lo:min(lo+perTx, len(kvs))] {
						if err := b.Put(e.k, e.v); err != nil {
							return err
						}
					}
					return nil
				})
			}
			delete(put, name)
		}
		x.db.NoSync = false
		if st, err := os.Stat(filepath.Join(bench.dir, FileName)); err == nil {
			fmt.Fprintf(os.Stderr, "benchmark index: %d recordings, %d MB, built in %v\n", benchN, st.Size()>>20, time.Since(t).Round(time.Second))
		}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.x
}

// BenchmarkList1M measures one page of 50 from 1,000,000 recordings: the newest page, a
// page deep into the list by cursor, and pages with filters (agent + time range, label +
// agent, call id).
func BenchmarkList1M(b *testing.B) {
	x := benchIndex(b)
	ctx := context.Background()
	// A cursor half way down the list.
	mid := benchSidecar(benchN / 2)
	deep := encodeToken(sortKey(mid.Start.UnixNano(), mid.RecordingID))
	for _, c := range []struct {
		name string
		q    Query
	}{
		{"newest", Query{}},
		{"cursor-mid", Query{After: deep}},
		{"agent+month", Query{AgentID: "agent-042", From: t0.AddDate(0, -13, 0), To: t0.AddDate(0, -12, 0)}},
		{"label+agent", Query{Labels: map[string]string{"queue": "q07"}, AgentID: "agent-107"}},
		{"label+agent+cursor", Query{Labels: map[string]string{"queue": "q07"}, AgentID: "agent-107", After: deep}},
		{"call", Query{CallID: fmt.Sprintf("%x@pbx-%d", 777777, 777777%7)}},
	} {
		c.q.Limit = 50
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				page, _, err := x.List(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(page)
			}
			if want := 50; c.name != "call" && n != want {
				b.Fatalf("page of %d, want %d", n, want)
			}
			b.ReportMetric(float64(n), "entries/page")
		})
	}
}

package audit

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fillLog appends n records of a few sessions, agents and actions, one second apart.
func fillLog(t testing.TB, l *Log, clock *time.Time, n int, r *rand.Rand) {
	t.Helper()
	actions := []string{ActionPause, ActionResume, ActionCaptureStart, ActionSuspicious}
	for i := range n {
		*clock = clock.Add(time.Second)
		s := r.IntN(7)
		rec := Record{Actor: fmt.Sprint("actor-", r.IntN(3)), Action: actions[r.IntN(len(actions))],
			SessionID: fmt.Sprint("s-", s), CallID: fmt.Sprint("call-", s), AgentID: fmt.Sprint("agent-", s%3),
			Outcome: "OK", Detail: fmt.Sprint(i)}
		if _, err := l.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
}

func openClocked(t testing.TB, path string, clock *time.Time, opts ...Option) *Log {
	t.Helper()
	l, err := Open(path, append(opts, WithClock(func() time.Time { return *clock }))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// pages reads every page of a query from the log's index.
func pages(t *testing.T, l *Log, f Filter) []uint64 {
	t.Helper()
	var seqs []uint64
	for range 1000 {
		recs, more, skipped, err := l.Query(f)
		if err != nil || skipped != 0 {
			t.Fatalf("query %+v: skipped %d, %v", f, skipped, err)
		}
		for _, r := range recs {
			seqs = append(seqs, r.Seq)
		}
		if !more {
			return seqs
		}
		f.After = recs[len(recs)-1].Seq
	}
	t.Fatal("paging did not end")
	return nil
}

// The index answers every filter, paged, exactly as a read of the whole file does: with
// the whole log indexed, and with the index holding only the newest records (the rest
// read from the file), after a restart rebuilt it, and with records added since.
func TestIndexMatchesFileScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := start
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l := openClocked(t, path, &clock)
	fillLog(t, l, &clock, 700, r)
	filters := []Filter{
		{}, {SessionID: "s-3"}, {CallID: "call-5"}, {AgentID: "agent-1"}, {Actor: "actor-2"},
		{Action: ActionSuspicious}, {AgentID: "agent-2", Action: ActionPause},
		{Since: start.Add(200 * time.Second)}, {Until: start.Add(100 * time.Second)},
		{Since: start.Add(300 * time.Second), Until: start.Add(420 * time.Second), SessionID: "s-1"},
		{SessionID: "nobody"}, {After: 650},
	}
	check := func(name string, l *Log, sizes ...int) {
		for _, f := range filters {
			want, _, _, err := Query(path, Filter{SessionID: f.SessionID, CallID: f.CallID, AgentID: f.AgentID,
				Actor: f.Actor, Action: f.Action, Since: f.Since, Until: f.Until, After: f.After, Limit: 100000})
			if err != nil {
				t.Fatal(err)
			}
			var wantSeqs []uint64
			for _, w := range want {
				wantSeqs = append(wantSeqs, w.Seq)
			}
			for _, size := range sizes {
				f.Limit = size
				if got := pages(t, l, f); !slices.Equal(got, wantSeqs) {
					t.Errorf("%s: filter %+v, pages of %d: %d records, want %d (%v...)", name, f, size, len(got), len(wantSeqs), got[:min(5, len(got))])
				}
			}
		}
	}
	check("whole log indexed", l, 1, 7, 100)
	l.Close()

	small := openClocked(t, path, &clock, WithIndexLimit(128))
	if len(small.idx.sparse) == 0 {
		t.Fatal("no marks kept of the dropped records")
	}
	if n := len(small.idx.entries); n > 128 || n < 64 {
		t.Fatalf("index holds %d entries, limit 128", n)
	}
	check("index of the newest 128", small, 7, 100)
	fillLog(t, small, &clock, 300, r)
	if n := len(small.idx.entries); n > 128 {
		t.Fatalf("index holds %d entries after appends, limit 128", n)
	}
	check("index of the newest 128 after appends", small, 7, 100)
}

// Last gives the newest matching records, oldest first; Changed wakes a follower at the
// next append and at Close.
func TestIndexLastAndChanged(t *testing.T) {
	clock := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	l := openClocked(t, filepath.Join(t.TempDir(), "a.jsonl"), &clock)
	fillLog(t, l, &clock, 50, rand.New(rand.NewPCG(3, 4)))
	recs, err := l.Last(Filter{SessionID: "s-2"}, 3)
	if err != nil || len(recs) != 3 || !(recs[0].Seq < recs[1].Seq && recs[1].Seq < recs[2].Seq) {
		t.Fatalf("last 3 of s-2: %v %v", recs, err)
	}
	all, _, _, _ := l.Query(Filter{SessionID: "s-2", Limit: 100})
	if recs[2].Seq != all[len(all)-1].Seq {
		t.Fatalf("last is %d, want %d", recs[2].Seq, all[len(all)-1].Seq)
	}
	ch := l.Changed()
	select {
	case <-ch:
		t.Fatal("changed before an append")
	default:
	}
	if _, err := l.Append(Record{Actor: "a", Action: "x", Outcome: "OK"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("append did not wake a follower")
	}
	ch = l.Changed()
	l.Close()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not wake a follower")
	}
	if !l.Closed() {
		t.Fatal("not closed")
	}
	if _, _, _, err := l.Query(Filter{Limit: 1}); err == nil {
		t.Fatal("query of a closed log")
	}
}

// A line changed on disk after hushd wrote it is not returned (its hash fails); the rest are.
func TestIndexSkipsTamperedLines(t *testing.T) {
	clock := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l := openClocked(t, path, &clock)
	fillLog(t, l, &clock, 10, rand.New(rand.NewPCG(5, 6)))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := l.idx.offsetOf(4)
	if _, err := f.WriteAt([]byte(`{"seq":9`), off); err != nil { // same length as `{"seq":4`
		t.Fatal(err)
	}
	f.Close()
	recs, _, skipped, err := l.Query(Filter{Limit: 100})
	if err != nil || skipped != 1 || len(recs) != 9 {
		t.Fatalf("%d records, %d skipped, %v; want 9 and 1", len(recs), skipped, err)
	}
}

// Records written before agent_id existed (no such member) still verify and parse: the
// member is omitted when empty, so their canonical form is unchanged.
func TestRecordWithoutAgentIDStillCanonical(t *testing.T) {
	r := Record{Seq: 1, Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Actor: "a", Action: "x",
		SessionID: "s", CallID: "c", Outcome: "OK", Prev: Genesis}
	line, _, err := encode(&r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"call_id":"c","outcome"`; !strings.Contains(string(line), want) {
		t.Fatalf("line %s lacks %s", line, want)
	}
	if _, err := ParseRecord(line[:len(line)-1]); err != nil {
		t.Fatal(err)
	}
}

// writeChain writes n chained records straight to path (no fsync per record), of 50,000
// sessions and 1,000 agents, a millisecond apart.
func writeChain(tb testing.TB, path string, n int, start time.Time) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(7, 8))
	prev := Genesis
	for i := range n {
		s := r.IntN(50000)
		rec := Record{Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond), Actor: "sbc",
			Action: ActionPause, SessionID: fmt.Sprint("s-", s), AgentID: fmt.Sprint("agent-", s%1000), Outcome: "OK", Prev: prev}
		line, hash, err := encode(&rec)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(line)
		prev = hash
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkQueryPage: a page of 50 of one agent's records in the last ten minutes, out of
// 500,000 records: a look through the index and 50 reads, whatever the file's size.
func BenchmarkQueryPage(b *testing.B) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	path := filepath.Join(b.TempDir(), "a.jsonl")
	const n = 500000
	writeChain(b, path, n, start)
	t0 := time.Now()
	l, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.Logf("open (verify and index) of %d records: %v", n, time.Since(t0).Round(time.Millisecond))
	f := Filter{AgentID: "agent-17", Since: start.Add(n*time.Millisecond - 10*time.Minute), Limit: 50}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		recs, _, _, err := l.Query(f)
		if err != nil || len(recs) == 0 {
			b.Fatalf("%d records, %v", len(recs), err)
		}
	}
}

package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hushmedia/hush/media/record"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// sidecar is a minimal valid sidecar of recording i: agent a-(i%3), label queue
// q-(i%4), call c-(i/2) (two recordings per call), one minute apart.
func sidecar(i int) record.Sidecar {
	return record.Sidecar{
		Version: 1, RecordingID: fmt.Sprintf("rec-%03d", i), SessionID: fmt.Sprintf("rec-%03d", i),
		CallID: fmt.Sprintf("c-%d", i/2), AgentID: fmt.Sprintf("a-%d", i%3),
		Labels: map[string]string{"queue": fmt.Sprintf("q-%d", i%4), "tenant": "acme"},
		Status: record.StatusComplete, Content: record.ContentFull, Revision: 2,
		Start: t0.Add(time.Duration(i) * time.Minute), SampleRate: record.SampleRate, BitsPerSample: record.BitsPerSample,
		Channels: []string{"customer", "agent"}, WAV: fmt.Sprintf("rec-%03d.wav", i), Size: 44,
	}
}

func open(t *testing.T, root string) (*Index, Report) {
	t.Helper()
	x, rep, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x, rep
}

// all pages through q and returns the ids in order.
func all(t *testing.T, x *Index, q Query) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		page, next, err := x.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > q.Limit {
			t.Fatalf("page of %d, limit %d", len(page), q.Limit)
		}
		for _, e := range page {
			ids = append(ids, e.Sidecar.RecordingID)
		}
		if next == "" {
			return ids
		}
		q.After = next
	}
	t.Fatal("no last page")
	return nil
}

// TestListFiltersAndPages: every combination of filters (status among them), paged by 1, 3 and 100, returns
// exactly the matching recordings, newest first, each once.
func TestListFiltersAndPages(t *testing.T) {
	x, _ := open(t, t.TempDir())
	const n = 60
	var scs []record.Sidecar
	statuses := []record.Status{record.StatusComplete, record.StatusFailed, record.StatusComplete, record.StatusRepaired, record.StatusInProgress}
	for i := range n {
		sc := sidecar(i)
		sc.Status = statuses[i%len(statuses)]
		scs = append(scs, sc)
	}
	putAll(t, x, record.DateDir(t0), scs)
	queries := []Query{
		{Status: record.StatusFailed},
		{Status: record.StatusRepaired, AgentID: "a-1"},
		{Status: record.StatusComplete, From: t0.Add(10 * time.Minute), To: t0.Add(40 * time.Minute)},
		{},
		{AgentID: "a-1"},
		{CallID: "c-7"},
		{Labels: map[string]string{"queue": "q-2"}},
		{Labels: map[string]string{"queue": "q-2", "tenant": "acme"}, AgentID: "a-0"},
		{Labels: map[string]string{"queue": "q-9"}},
		{From: t0.Add(10 * time.Minute), To: t0.Add(20 * time.Minute)},
		{AgentID: "a-2", From: t0.Add(30 * time.Minute)},
		{CallID: "c-3", AgentID: "a-0"},
		{To: t0.Add(5*time.Minute + time.Second)},
	}
	for qi, q := range queries {
		var want []string
		for i := n - 1; i >= 0; i-- {
			sc := scs[i]
			ok := (q.AgentID == "" || sc.AgentID == q.AgentID) && (q.CallID == "" || sc.CallID == q.CallID) &&
				(q.Status == "" || sc.Status == q.Status) &&
				(q.From.IsZero() || !sc.Start.Before(q.From)) && (q.To.IsZero() || sc.Start.Before(q.To))
			for k, v := range q.Labels {
				ok = ok && sc.Labels[k] == v
			}
			if ok {
				want = append(want, sc.RecordingID)
			}
		}
		for _, limit := range []int{1, 3, 100} {
			q.Limit = limit
			if got := all(t, x, q); !slices.Equal(got, want) {
				t.Errorf("query %d limit %d: got %v, want %v", qi, limit, got, want)
			}
		}
	}
	if _, _, err := x.List(context.Background(), Query{After: "not-a-token", Limit: 1}); !errors.Is(err, ErrBadToken) {
		t.Errorf("bad token: %v", err)
	}
	// An update replaces the entry and its keys.
	sc := scs[5]
	sc.Status, sc.Revision, sc.AgentID = record.StatusFailed, 3, "a-9"
	if err := x.Put(record.DateDir(sc.Start), &sc); err != nil {
		t.Fatal(err)
	}
	if got := all(t, x, Query{AgentID: "a-9", Limit: 10}); !slices.Equal(got, []string{"rec-005"}) {
		t.Errorf("after update, agent a-9: %v", got)
	}
	if got := all(t, x, Query{AgentID: "a-9", Status: record.StatusFailed, Limit: 10}); !slices.Equal(got, []string{"rec-005"}) {
		t.Errorf("after update, agent a-9 failed: %v", got)
	}
	if got := all(t, x, Query{AgentID: "a-9", Status: record.StatusComplete, Limit: 10}); len(got) != 0 {
		t.Errorf("after update, agent a-9 complete: %v", got)
	}
	if got := all(t, x, Query{AgentID: "a-2", Limit: 100}); slices.Contains(got, "rec-005") {
		t.Error("the old agent key stayed")
	}
	e, err := x.Get(context.Background(), "rec-005")
	if err != nil || e.Sidecar.Status != record.StatusFailed || e.Dir != filepath.FromSlash("2026/11/20") {
		t.Errorf("Get = %+v, %v", e, err)
	}
	if _, err := x.Get(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: %v", err)
	}
}

// TestListRespectsContext: a cancelled List stops and says so.
func TestListRespectsContext(t *testing.T) {
	x, _ := open(t, t.TempDir())
	var batch []record.Sidecar
	for i := range 2000 {
		batch = append(batch, sidecar(i))
	}
	putAll(t, x, "", batch)
	ctx, cancel := context.WithCancel(context.Background())
	// Walks 2000 keys of tenant=acme, none of which has agent a-9: cancelled half way.
	q := Query{Labels: map[string]string{"tenant": "acme"}, AgentID: "a-9", Limit: 10}
	x.testHook = func(n int) {
		if n == 1000 {
			cancel()
		}
	}
	if _, _, err := x.List(ctx, q); !errors.Is(err, context.Canceled) {
		t.Errorf("List cancelled during its walk: %v", err)
	}
	if got := x.examined; got >= 2000 {
		t.Errorf("examined %d keys after the cancel at 1000", got)
	}
}

// writeRecording makes a real recording (record.New, Close) in root/dir.
func writeRecording(t *testing.T, root, dir, id string, start time.Time, labels map[string]string) {
	t.Helper()
	full := filepath.Join(root, dir)
	if err := os.MkdirAll(full, 0o750); err != nil {
		t.Fatal(err)
	}
	clk := record.ClockFunc(func() time.Time { return start })
	r, err := record.New(full, record.Meta{RecordingID: id, CallID: "call-" + id, AgentID: "agent-1", Labels: labels},
		record.WithClock(clk), record.WithDrainInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFollowsTheSidecars: Open indexes recordings already on disk, flat ones from
// before the dated layout included; after a clean Close it rescans only directories that
// changed, picks up new and drops deleted recordings; an unreadable index file is
// rebuilt from the sidecars.
func TestOpenFollowsTheSidecars(t *testing.T) {
	root := t.TempDir()
	writeRecording(t, root, "", "flat-1", t0, nil)
	writeRecording(t, root, record.DateDir(t0), "dated-1", t0.Add(time.Hour), map[string]string{"queue": "sales"})
	writeRecording(t, root, record.DateDir(t0.Add(48*time.Hour)), "dated-2", t0.Add(48*time.Hour), nil)

	x, rep, err := Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Rebuilt || rep.Indexed != 3 {
		t.Errorf("first open: %+v", rep)
	}
	if got := all(t, x, Query{Limit: 10}); !slices.Equal(got, []string{"dated-2", "dated-1", "flat-1"}) {
		t.Errorf("listed %v", got)
	}
	if got := all(t, x, Query{Labels: map[string]string{"queue": "sales"}, Limit: 10}); !slices.Equal(got, []string{"dated-1"}) {
		t.Errorf("label filter: %v", got)
	}
	if dir, err := x.Path(context.Background(), "dated-1"); err != nil || dir != filepath.Join(root, record.DateDir(t0)) {
		t.Errorf("Path = %q, %v", dir, err)
	}
	for _, bad := range []string{"../dated-1", "dated-1/../../x", "", ".hidden"} {
		if _, err := x.Path(context.Background(), bad); err == nil {
			t.Errorf("Path(%q) accepted", bad)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	// Unchanged: nothing rescanned, nothing to repair.
	var repaired []string
	repair := WithRepair(func(dir string) error {
		rel, _ := filepath.Rel(root, dir)
		repaired = append(repaired, rel)
		return nil
	})
	x, rep, err = Open(context.Background(), root, repair)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rebuilt || rep.Dirs != 0 || len(repaired) != 0 {
		t.Errorf("reopen unchanged: %+v, repaired %v", rep, repaired)
	}
	x.Close()

	// A recording deleted, another added while hushd was down.
	for _, ext := range []string{".wav", ".json"} {
		if err := os.Remove(filepath.Join(root, record.DateDir(t0), "dated-1"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	writeRecording(t, root, record.DateDir(t0.Add(72*time.Hour)), "dated-3", t0.Add(72*time.Hour), nil)
	x, rep, err = Open(context.Background(), root, repair)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Removed != 1 || rep.Indexed != 1 || rep.Dirs != 2 {
		t.Errorf("reopen after changes: %+v", rep)
	}
	if want := []string{record.DateDir(t0), record.DateDir(t0.Add(72 * time.Hour))}; !slices.Equal(repaired, want) {
		t.Errorf("repaired %v, want the changed directories %v", repaired, want)
	}
	if got := all(t, x, Query{Limit: 10}); !slices.Equal(got, []string{"dated-3", "dated-2", "flat-1"}) {
		t.Errorf("listed %v", got)
	}
	x.Close()

	// A damaged index file is rebuilt.
	if err := os.WriteFile(filepath.Join(root, FileName), []byte("not a bbolt file, not at all, no"), 0o600); err != nil {
		t.Fatal(err)
	}
	x, rep = open(t, root)
	if !rep.Rebuilt || rep.Indexed != 3 {
		t.Errorf("reopen damaged: %+v", rep)
	}
	if got := all(t, x, Query{Limit: 2}); !slices.Equal(got, []string{"dated-3", "dated-2", "flat-1"}) {
		t.Errorf("listed %v", got)
	}
}

// putAll indexes sidecars in one transaction (Put commits each).
func putAll(t testing.TB, x *Index, dir string, scs []record.Sidecar) {
	t.Helper()
	err := x.db.Update(func(tx *bolt.Tx) error {
		for i := range scs {
			if err := putTx(tx, &Entry{Dir: dir, Sidecar: scs[i]}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSegmentKept: a recording's segment and the recording it continues (a call moved to
// another node) come back from the index as the sidecar said.
func TestSegmentKept(t *testing.T) {
	x, _ := open(t, t.TempDir())
	sc := sidecar(1)
	sc.RecordingID, sc.WAV, sc.Segment, sc.PreviousRecordingID = "rec-001-2", "rec-001-2.wav", 2, "rec-001"
	if err := x.Put("", &sc); err != nil {
		t.Fatal(err)
	}
	e, err := x.Get(context.Background(), "rec-001-2")
	if err != nil {
		t.Fatal(err)
	}
	if e.Sidecar.Segment != 2 || e.Sidecar.PreviousRecordingID != "rec-001" {
		t.Fatalf("segment %d previous %q", e.Sidecar.Segment, e.Sidecar.PreviousRecordingID)
	}
}

package audit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestQueryBySessionPaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i, s := range []string{"s-1", "s-2", "s-1", "", "s-1"} {
		if _, err := l.Append(Record{Actor: "alice", Action: "recording.pause", SessionID: s, Outcome: "OK", Detail: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	recs, more, skipped, err := Query(path, Filter{SessionID: "s-1", Limit: 2})
	if err != nil || !more || skipped != 0 || len(recs) != 2 || recs[0].Seq != 1 || recs[1].Seq != 3 {
		t.Fatalf("page 1: %v more=%v skipped=%d err=%v", recs, more, skipped, err)
	}
	recs, more, _, err = Query(path, Filter{SessionID: "s-1", After: recs[1].Seq, Limit: 2})
	if err != nil || more || len(recs) != 1 || recs[0].Seq != 5 {
		t.Fatalf("page 2: %v more=%v err=%v", recs, more, err)
	}
	all, _, _, _ := Query(path, Filter{Limit: 100})
	if len(all) != 5 {
		t.Fatalf("unfiltered: %d records, want 5", len(all))
	}
}

// A line being written (no newline yet) and a tampered line are not records; a missing
// file holds none.
func TestQueryTornAndBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := l.Append(Record{Actor: "a", Action: "x", SessionID: "s", Outcome: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	b, _ := os.ReadFile(path)
	b = append([]byte(`{"seq":1,"session_id":"s","tampered":true}`+"\n"), b...)
	b = append(b, []byte(`{"seq":3,"session_id":"s"`)...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	recs, more, skipped, err := Query(path, Filter{SessionID: "s", Limit: 10})
	if err != nil || more || skipped != 1 || len(recs) != 2 {
		t.Fatalf("got %d records, more=%v, skipped=%d, err=%v; want 2, false, 1", len(recs), more, skipped, err)
	}
	if recs, _, _, err := Query(filepath.Join(t.TempDir(), "none"), Filter{Limit: 1}); err != nil || recs != nil {
		t.Fatalf("missing file: %v %v", recs, err)
	}
}

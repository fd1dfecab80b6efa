package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Filter selects records for Query and Log.Query: every field set must match.
type Filter struct {
	SessionID string // "" = every session
	CallID    string
	AgentID   string
	Actor     string
	Action    string
	Since     time.Time // records written at or after it (zero: from the start)
	Until     time.Time // records written before it (zero: to the end)
	After     uint64    // only records with a greater seq (paging)
	Limit     int       // at most this many (>= 1)
}

// match reports whether r passes every field of f but After and Limit.
func (f *Filter) match(r *Record) bool {
	return (f.SessionID == "" || r.SessionID == f.SessionID) &&
		(f.CallID == "" || r.CallID == f.CallID) &&
		(f.AgentID == "" || r.AgentID == f.AgentID) &&
		(f.Actor == "" || r.Actor == f.Actor) &&
		(f.Action == "" || r.Action == f.Action) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since)) &&
		(f.Until.IsZero() || r.Time.Before(f.Until))
}

// Query reads the audit file at path, in log order, and returns the records that match f
// and whether more follow. It reads with its own handle while hushd appends: a last line
// still being written is not a record yet and is left out. Each record's own hash is
// checked (ParseRecord); lines that fail are skipped and counted in skipped, since the
// chain as a whole is Verify's to judge. A file that does not exist holds no record.
// hushd itself answers from its index (Log.Query); this reads the whole file.
func Query(path string, f Filter) (recs []Record, more bool, skipped int, err error) {
	if f.Limit < 1 {
		return nil, false, 0, fmt.Errorf("%w: query limit must be at least 1", ErrRecord)
	}
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, 0, nil
	}
	if err != nil {
		return nil, false, 0, fmt.Errorf("audit: %w", err)
	}
	defer file.Close()
	return scanQuery(file, f)
}

// scanQuery runs a query over r, a log file read from its start.
func scanQuery(r io.Reader, f Filter) (recs []Record, more bool, skipped int, err error) {
	// A cheap test before parsing: the canonical line holds the member verbatim.
	var want []byte
	if f.SessionID != "" {
		id, _ := json.Marshal(f.SessionID)
		want = append([]byte(`"session_id":`), id...)
	}
	br := bufio.NewReaderSize(r, MaxLine+1)
	for {
		raw, rerr := readLine(br)
		if errors.Is(rerr, bufio.ErrBufferFull) {
			skipLine(br, int64(len(raw)))
			skipped++
			continue
		}
		if rerr != nil && rerr != io.EOF {
			return recs, false, skipped, fmt.Errorf("audit: read: %w", rerr)
		}
		if len(raw) == 0 || raw[len(raw)-1] != '\n' { // end of file, or a line being written
			return recs, false, skipped, nil
		}
		line := raw[:len(raw)-1]
		if want != nil && !bytes.Contains(line, want) {
			continue
		}
		rec, perr := ParseRecord(line)
		switch {
		case perr != nil:
			skipped++
			continue
		case rec.Seq <= f.After || !f.match(&rec):
			continue
		}
		if len(recs) == f.Limit {
			return recs, true, skipped, nil
		}
		recs = append(recs, rec)
	}
}

package index

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hushmedia/hush/media/record"
)

// MaxScan is the most keys one List examines. A filter that matches few of
// many recordings returns a short page and a token to go on.
const MaxScan = 100_000

// Query selects recordings for List. Every filter set must match.
type Query struct {
	CallID  string
	AgentID string
	Labels  map[string]string
	// From and To bound the start time: From <= start < To (zero: open).
	From, To time.Time
	// After is a page token from a previous List ("": from the newest).
	After string
	// Limit is the page size (at least 1).
	Limit int
	// Status, if set, is the only status listed.
	Status record.Status
}

// List returns a page of matching recordings, newest start first (then by
// id), and the token of the next page ("" when there is no more). The page
// may be shorter than Limit, even empty, with a token: MaxScan keys were
// examined.
func (x *Index) List(ctx context.Context, q Query) ([]Entry, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(q.After)
	if err != nil {
		return nil, "", err
	}
	limit := max(q.Limit, 1)
	// Walk the most selective index; check the other filters by their keys.
	labels := make([]string, 0, len(q.Labels))
	for k := range q.Labels {
		labels = append(labels, k)
	}
	slices.Sort(labels)
	var walk []byte
	var prefix []byte
	var checks []func(tx *bolt.Tx, sk []byte) bool
	has := func(bucket, p []byte) func(*bolt.Tx, []byte) bool {
		return func(tx *bolt.Tx, sk []byte) bool { return tx.Bucket(bucket).Get(join(p, sk)) != nil }
	}
	use := func(bucket, p []byte) {
		if walk == nil {
			walk, prefix = bucket, p
		} else {
			checks = append(checks, has(bucket, p))
		}
	}
	if q.CallID != "" {
		use(bCall, callPrefix(q.CallID))
	}
	for _, k := range labels {
		use(bLabel, labelPrefix(k, q.Labels[k]))
	}
	if q.AgentID != "" {
		use(bAgent, agentPrefix(q.AgentID))
	}
	if walk == nil {
		walk, prefix = bStart, nil
	}
	from, to := int64(0), int64(0)
	if !q.From.IsZero() {
		from = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		to = q.To.UnixNano()
	}

	// The status filter sees a recording's newest state, pending writes included.
	var pendingStatus map[string]pendingSt
	if q.Status != "" {
		x.mu.Lock()
		pendingStatus = make(map[string]pendingSt, len(x.pending))
		for id, p := range x.pending {
			pendingStatus[id] = pendingSt{rev: p.Rev, status: p.Status}
		}
		x.mu.Unlock()
	}

	var out []Entry
	var last, prev []byte // sort keys: of the last entry of out, of the last key examined
	next := ""
	err = x.db.View(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bRecs)
		c := tx.Bucket(walk).Cursor()
		// Start at the later of the cursor and the end of the time range.
		seek := prefix
		if to != 0 {
			seek = join(prefix, sortKey(to, ""))
		}
		if after != nil {
			if a := join(prefix, after); bytes.Compare(a, seek) > 0 {
				seek = a
			}
		}
		k, _ := c.Seek(seek)
		if after != nil && k != nil && bytes.Equal(k, join(prefix, after)) {
			k, _ = c.Next()
		}
		for n := 0; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
			if x.testHook != nil {
				x.testHook(n)
				x.examined = n
			}
			if n%512 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			sk := k[len(prefix):]
			if len(sk) <= 8 {
				continue
			}
			if n > MaxScan {
				next = encodeToken(prev) // go on after the last key examined
				return nil
			}
			prev = append(prev[:0], sk...)
			start := keyStart(sk)
			if to != 0 && start >= to {
				continue
			}
			if from != 0 && start < from {
				break // older from here on
			}
			ok := true
			for _, check := range checks {
				if ok = check(tx, sk); !ok {
					break
				}
			}
			if !ok {
				continue
			}
			id := keyID(sk)
			v := recs.Get([]byte(id))
			if v == nil {
				continue
			}
			s, err := unmarshal(v)
			if err != nil {
				continue
			}
			if q.Status != "" {
				st := s.Status
				if p, ok := pendingStatus[id]; ok && p.rev >= s.Rev {
					st = p.status
				}
				if st != q.Status {
					continue
				}
			}
			if len(out) == limit {
				next = encodeToken(last)
				return nil
			}
			out = append(out, s.entry(id))
			last = append(last[:0], sk...)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list recordings: %w", err)
	}
	kept := out[:0]
	for i := range out {
		id := out[i].Sidecar.RecordingID
		if s, ok := x.overlay(id, stored{Rev: out[i].Sidecar.Revision}, true); ok && s.Rev > out[i].Sidecar.Revision {
			out[i] = s.entry(id)
		}
		if q.Status == "" || out[i].Sidecar.Status == q.Status {
			kept = append(kept, out[i])
		}
	}
	return kept, next, nil
}

type pendingSt struct {
	rev    uint64
	status record.Status
}

func encodeToken(sk []byte) string { return base64.RawURLEncoding.EncodeToString(sk) }

func decodeToken(tok string) ([]byte, error) {
	if tok == "" {
		return nil, nil
	}
	if len(tok) > 256 {
		return nil, ErrBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) <= 8 || record.ValidateID(keyID(b)) != nil {
		return nil, ErrBadToken
	}
	return b, nil
}

package audit

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// The index: an in-memory table of where each record's line is in the file, with the
// fields a query filters by, built while Open verifies the chain and appended to by
// Append. A query looks through the table and reads only the lines it returns, so paging
// through a large log never rescans the file. It is bounded: it holds the newest
// indexLimit records (about 48 bytes each, plus each distinct id once); a query that
// reaches back before them reads that older part of the file, from near the page's start.

// DefaultIndexLimit is how many records the index holds by default (about 25 MB).
const DefaultIndexLimit = 1 << 19

// checkpointEvery: every this many entries the index keeps the latest time so far, so a
// query by time finds its start without a look at every entry.
const checkpointEvery = 1024

// entry is one record in the index. Strings are interned: 0 is "".
type entry struct {
	seq                              uint64
	off                              int64  // of the line in the file
	t                                int64  // unix ns
	n                                uint32 // line length with its newline
	session, call, agent, actor, act uint32
}

type index struct {
	mu      sync.RWMutex
	limit   int
	entries []entry
	// ckpt[i] is the latest time of entries[0 : (i+1)*checkpointEvery].
	ckpt []int64
	// strs interns the filterable strings of the entries held.
	ids  map[string]uint32
	strs []string
	// sparse remembers, for the records compaction dropped, where every
	// checkpointEvery-th one starts: a query reaching back there reads the file from
	// near its first record, not from the start (16 bytes per 1024 records).
	sparse []mark
	// changed is closed and replaced at each append, for followers; closed for good at
	// Close.
	changed chan struct{}
	closed  bool
}

func newIndex(limit int) *index {
	if limit <= 0 {
		limit = DefaultIndexLimit
	}
	return &index{limit: limit, ids: map[string]uint32{"": 0}, strs: []string{""}, changed: make(chan struct{})}
}

func (x *index) intern(s string) uint32 {
	if id, ok := x.ids[s]; ok {
		return id
	}
	id := uint32(len(x.strs))
	x.ids[s] = id
	x.strs = append(x.strs, s)
	return id
}

// lookup returns the id of s, and whether any held entry may have it.
func (x *index) lookup(s string) (uint32, bool) {
	id, ok := x.ids[s]
	return id, ok
}

// add indexes a record whose line is at off, n bytes long. Callers hold x.mu.
func (x *index) add(r *Record, off int64, n int) {
	if len(x.entries) >= x.limit {
		x.compact()
	}
	e := entry{seq: r.Seq, off: off, t: r.Time.UnixNano(), n: uint32(n),
		session: x.intern(r.SessionID), call: x.intern(r.CallID), agent: x.intern(r.AgentID),
		actor: x.intern(r.Actor), act: x.intern(r.Action)}
	x.entries = append(x.entries, e)
	x.checkpoint(len(x.entries)-1, e.t)
}

// checkpoint keeps x.ckpt, the latest time up to each run of checkpointEvery entries,
// as entry i (at time t) joins them.
func (x *index) checkpoint(i int, t int64) {
	if i%checkpointEvery == 0 {
		prev := t
		if len(x.ckpt) > 0 {
			prev = max(prev, x.ckpt[len(x.ckpt)-1])
		}
		x.ckpt = append(x.ckpt, prev)
	}
	x.ckpt[len(x.ckpt)-1] = max(x.ckpt[len(x.ckpt)-1], t)
}

// mark is where a dropped record starts.
type mark struct {
	seq uint64
	off int64
}

// compact forgets the oldest half of the entries and the strings only they used.
func (x *index) compact() {
	drop := x.entries[:len(x.entries)/2]
	for i := 0; i < len(drop); i += checkpointEvery {
		x.sparse = append(x.sparse, mark{seq: drop[i].seq, off: drop[i].off})
	}
	keep := x.entries[len(x.entries)/2:]
	entries := make([]entry, 0, x.limit)
	old := x.strs
	x.ids, x.strs, x.ckpt = map[string]uint32{"": 0}, []string{""}, nil
	for _, e := range keep {
		e.session, e.call, e.agent = x.intern(old[e.session]), x.intern(old[e.call]), x.intern(old[e.agent])
		e.actor, e.act = x.intern(old[e.actor]), x.intern(old[e.act])
		entries = append(entries, e)
		x.checkpoint(len(entries)-1, e.t)
	}
	x.entries = entries
}

// notify wakes followers. Callers hold x.mu.
func (x *index) notify() {
	if !x.closed {
		close(x.changed)
		x.changed = make(chan struct{})
	}
}

// hit is a line a query selected.
type hit struct {
	seq uint64
	off int64
	n   uint32
}

// matcher is a Filter in the index's terms.
type matcher struct {
	session, call, agent, actor, act uint32
	any                              bool // some string filter names nothing held: no entry matches
	since, until                     int64
}

func (x *index) matcher(f *Filter) matcher {
	var m matcher
	for _, p := range []struct {
		s   string
		dst *uint32
	}{{f.SessionID, &m.session}, {f.CallID, &m.call}, {f.AgentID, &m.agent}, {f.Actor, &m.actor}, {f.Action, &m.act}} {
		if p.s == "" {
			continue
		}
		id, ok := x.lookup(p.s)
		if !ok {
			m.any = true
		}
		*p.dst = id
	}
	if !f.Since.IsZero() {
		m.since = f.Since.UnixNano()
	}
	if !f.Until.IsZero() {
		m.until = f.Until.UnixNano()
	}
	return m
}

func (m *matcher) match(e *entry) bool {
	return (m.session == 0 || e.session == m.session) && (m.call == 0 || e.call == m.call) &&
		(m.agent == 0 || e.agent == m.agent) && (m.actor == 0 || e.actor == m.actor) &&
		(m.act == 0 || e.act == m.act) && (m.since == 0 || e.t >= m.since) && (m.until == 0 || e.t < m.until)
}

// find selects up to limit+1 matching entries with seq > f.After, in order. before reports
// that the query reaches records older than the index holds (their seq is below first).
func (x *index) find(f *Filter, limit int) (hits []hit, before bool, first uint64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if len(x.entries) == 0 {
		return nil, false, 0
	}
	first = x.entries[0].seq
	before = first > 1 && f.After+1 < first
	m := x.matcher(f)
	if m.any {
		return nil, before, first
	}
	start := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].seq > f.After })
	if m.since != 0 {
		// The first checkpoint block whose latest time reaches since; no entry before it can.
		b := sort.Search(len(x.ckpt), func(i int) bool { return x.ckpt[i] >= m.since })
		start = max(start, b*checkpointEvery)
	}
	for i := start; i < len(x.entries) && len(hits) <= limit; i++ {
		if e := &x.entries[i]; m.match(e) {
			hits = append(hits, hit{seq: e.seq, off: e.off, n: e.n})
		}
	}
	return hits, before, first
}

// last selects the last n matching entries, oldest first.
func (x *index) last(f *Filter, n int) []hit {
	x.mu.RLock()
	defer x.mu.RUnlock()
	m := x.matcher(f)
	if m.any {
		return nil
	}
	var hits []hit
	for i := len(x.entries) - 1; i >= 0 && len(hits) < n; i-- {
		if e := &x.entries[i]; m.match(e) {
			hits = append(hits, hit{seq: e.seq, off: e.off, n: e.n})
		}
	}
	for i, j := 0, len(hits)-1; i < j; i, j = i+1, j-1 {
		hits[i], hits[j] = hits[j], hits[i]
	}
	return hits
}

// Query returns the records that match f, in log order, and whether more follow, from
// the index and the lines it points at. Each line read is checked again (its own hash, and
// that it is the record the index expected); a line that fails is skipped and counted.
func (l *Log) Query(f Filter) (recs []Record, more bool, skipped int, err error) {
	if f.Limit < 1 {
		return nil, false, 0, fmt.Errorf("%w: query limit must be at least 1", ErrRecord)
	}
	hits, before, first := l.idx.find(&f, f.Limit)
	if before {
		// The query reaches records older than the index holds: read the file up to the
		// first record it holds, then go on with the index.
		r, err := l.reader()
		if err != nil {
			return nil, false, 0, err
		}
		from := l.idx.startOf(f.After)
		old, m, s, err := scanQuery(io.NewSectionReader(r, from, l.idx.offsetOf(first)-from), f)
		skipped += s
		if err != nil || m || len(old) == f.Limit {
			return old, m || len(hits) > 0, skipped, err
		}
		recs = old
		hits = hits[:min(len(hits), f.Limit-len(recs)+1)]
	}
	got, s, err := l.read(hits, &f)
	skipped += s
	recs = append(recs, got...)
	if err != nil {
		return recs, false, skipped, err
	}
	if len(recs) > f.Limit {
		recs, more = recs[:f.Limit], true
	}
	return recs, more, skipped, nil
}

// Last returns the last n records that match f (f.After and Limit are ignored), oldest
// first, from the records the index holds.
func (l *Log) Last(f Filter, n int) ([]Record, error) {
	if n <= 0 {
		return nil, nil
	}
	recs, _, err := l.read(l.idx.last(&f, n), &f)
	return recs, err
}

// Changed returns a channel closed at the next append (and when the log closes): a
// follower takes it, queries, and waits on it for more.
func (l *Log) Changed() <-chan struct{} {
	l.idx.mu.RLock()
	defer l.idx.mu.RUnlock()
	return l.idx.changed
}

// Closed reports whether the log was closed (a follower's cue to stop).
func (l *Log) Closed() bool {
	l.idx.mu.RLock()
	defer l.idx.mu.RUnlock()
	return l.idx.closed
}

// startOf is where in the file to start reading for records after seq, among those the
// index dropped: the last mark at or before seq+1.
func (x *index) startOf(after uint64) int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i := sort.Search(len(x.sparse), func(i int) bool { return x.sparse[i].seq > after+1 })
	if i == 0 {
		return 0
	}
	return x.sparse[i-1].off
}

// offsetOf is where the record seq starts in the file, if the index holds it (else 0).
func (x *index) offsetOf(seq uint64) int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].seq >= seq })
	if i < len(x.entries) && x.entries[i].seq == seq {
		return x.entries[i].off
	}
	return 0
}

// read reads and checks the lines of hits.
func (l *Log) read(hits []hit, f *Filter) (recs []Record, skipped int, err error) {
	if len(hits) == 0 {
		return nil, 0, nil
	}
	r, err := l.reader()
	if err != nil {
		return nil, 0, err
	}
	var buf []byte
	for _, h := range hits {
		if int(h.n) > MaxLine+1 || h.n == 0 {
			skipped++
			continue
		}
		if cap(buf) < int(h.n) {
			buf = make([]byte, max(int(h.n), 1024))
		}
		buf = buf[:h.n]
		if _, err := r.ReadAt(buf, h.off); err != nil {
			if errors.Is(err, io.EOF) {
				skipped++ // the file was cut short under hushd: not a record any more
				continue
			}
			return recs, skipped, fmt.Errorf("audit: read: %w", err)
		}
		rec, perr := ParseRecord(buf[:len(buf)-1])
		if perr != nil || buf[len(buf)-1] != '\n' || rec.Seq != h.seq || !f.match(&rec) {
			skipped++ // changed on disk since it was written: Verify will say where
			continue
		}
		recs = append(recs, rec)
	}
	return recs, skipped, nil
}

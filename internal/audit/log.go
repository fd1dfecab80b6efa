package audit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hushmedia/hush/media/pan"
)

// Log appends records to an audit file. It is safe for concurrent use;
// appends are serialized (the control plane is not a hot path) and each is
// on disk (fsync) before Append returns.
type Log struct {
	mu     sync.Mutex
	f      *os.File
	rf     *os.File // a read-only handle for queries (ReadAt), never moved
	size   int64    // where the next line goes
	seq    uint64
	hash   string
	now    func() time.Time
	failed error // set when a write failed: the file's tail is unknown
	idx    *index
}

// Option configures Open.
type Option func(*options)

type options struct {
	allowBroken bool
	now         func() time.Time
	indexLimit  int
}

// WithIndexLimit bounds the records the in-memory index holds (default
// DefaultIndexLimit); queries reaching further back read the file.
func WithIndexLimit(n int) Option { return func(o *options) { o.indexLimit = n } }

// AllowBroken lets Open append to a file whose chain is broken. The first
// record appended says where the chain broke; Verify still reports the
// break, so it stays visible.
func AllowBroken() Option { return func(o *options) { o.allowBroken = true } }

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Open opens (creating it and its directory if needed) the audit file at
// path for appending. It verifies the existing chain first and refuses a
// broken one (wrapping ErrChain or ErrRecord, with the line) unless
// AllowBroken is given. A last line cut short by a crash (no newline) is
// not a break: it was never acknowledged, so Open truncates it and appends
// an "audit.repair" record saying so. The file is locked (flock) so two
// processes cannot interleave chains.
func Open(path string, opts ...Option) (*Log, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, ErrLocked)
	}
	if os.IsNotExist(statErr) {
		syncDir(dir) // make the new file's name durable too
	}
	rf, err := os.Open(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{f: f, rf: rf, now: o.now, idx: newIndex(o.indexLimit)}
	if err := l.recover(path, o.allowBroken); err != nil {
		f.Close()
		rf.Close()
		return nil, err
	}
	return l, nil
}

// recover reads the existing chain and positions the log at its end.
func (l *Log) recover(path string, allowBroken bool) error {
	// The chain is verified and indexed in one read.
	st, err := scan(l.f, func(r *Record, off int64, n int) { l.idx.add(r, off, n) })
	var note *Record
	switch {
	case err == nil:
	case st.torn && st.good == st.tornAt:
		// Only an interrupted last write: drop it.
		size, _ := l.f.Seek(0, io.SeekEnd)
		if terr := l.f.Truncate(st.good); terr != nil {
			return fmt.Errorf("audit: %s: truncate incomplete record: %w", path, terr)
		}
		note = &Record{Actor: "hushd", Action: "audit.repair", Outcome: "OK",
			Detail: fmt.Sprintf("dropped an incomplete last record of %d bytes", size-st.good)}
	case allowBroken:
		if st.torn {
			if terr := l.f.Truncate(st.tornAt); terr != nil {
				return fmt.Errorf("audit: %s: truncate incomplete record: %w", path, terr)
			}
		}
		if st.parsed {
			st.seq, st.hash = st.lastOK.Seq, st.lastOK.Hash
		}
		note = &Record{Actor: "hushd", Action: "audit.chain_break_accepted", Outcome: "OK",
			Detail: pan.Scrub("appending after a broken chain: " + err.Error())}
	default:
		return fmt.Errorf("audit: %s: refusing to append to a broken chain (verify with `hushctl audit verify`): %w", path, err)
	}
	end, err := l.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	l.size = end
	l.seq, l.hash = st.seq, st.hash
	if note != nil {
		if _, err := l.Append(*note); err != nil {
			return err
		}
	}
	return nil
}

// Append completes r (Seq, Time, Prev, Hash), writes it as one line and
// fsyncs. It returns the record as written. A record with a digit run
// (ErrDigits) or missing actor/action/outcome (ErrRecord) is not written.
// After a failed write the log refuses further records (ErrClosed): the
// file's tail is unknown until the next Open repairs it.
func (l *Log) Append(r Record) (Record, error) {
	if err := r.check(); err != nil {
		return Record{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return Record{}, ErrClosed
	}
	if l.failed != nil {
		return Record{}, fmt.Errorf("%w: an earlier write failed: %v", ErrClosed, l.failed)
	}
	r.Seq, r.Prev = l.seq+1, l.hash
	// Round(0) drops the monotonic reading; UTC keeps the line canonical.
	r.Time = l.now().UTC().Round(0)
	line, hash, err := encode(&r)
	if err != nil {
		return Record{}, err
	}
	if _, err := l.f.Write(line); err != nil {
		l.failed = err
		return Record{}, fmt.Errorf("audit: write: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		l.failed = err
		return Record{}, fmt.Errorf("audit: fsync: %w", err)
	}
	l.seq, l.hash = r.Seq, hash
	r.Hash = hash
	l.idx.mu.Lock()
	l.idx.add(&r, l.size, len(line))
	l.idx.notify()
	l.idx.mu.Unlock()
	l.size += int64(len(line))
	return r, nil
}

// reader is the handle queries read lines with.
func (l *Log) reader() (io.ReaderAt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rf == nil {
		return nil, ErrClosed
	}
	return l.rf, nil
}

// Head returns the last record's seq and hash (0 and Genesis when empty):
// copy it elsewhere to make truncation and rewrites detectable.
func (l *Log) Head() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.hash
}

// Close releases the file (and its lock).
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	err := l.f.Close()
	l.rf.Close()
	l.f, l.rf = nil, nil
	l.idx.mu.Lock()
	if !l.idx.closed {
		l.idx.closed = true
		close(l.idx.changed)
	}
	l.idx.mu.Unlock()
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hushmedia/hush/media/record"
)

// FileName is the index file in the recordings root.
const FileName = "hush-index.db"

// layoutVersion changes when the buckets or the entry encoding do; an index
// of another version is rebuilt.
const layoutVersion = "2"

var (
	bRecs   = []byte("recs")   // id -> stored
	bStart  = []byte("start")  // sortKey -> nil
	bCall   = []byte("call")   // call 0 sortKey -> nil
	bAgent  = []byte("agent")  // agent 0 sortKey -> nil
	bLabel  = []byte("label")  // key 0 value 0 sortKey -> nil
	bDir    = []byte("dir")    // dir 0 id -> nil
	bExpire = []byte("expire") // retain-until (u64) id -> nil, for recordings not on hold
	bMeta   = []byte("meta")   // "version", "clean", "fp:"+dir -> mtime

	allBuckets = [][]byte{bRecs, bStart, bCall, bAgent, bLabel, bDir, bExpire, bMeta}
)

// Index is the index of one recordings root. It is safe for concurrent use.
type Index struct {
	root string
	db   *bolt.DB

	mu      sync.Mutex
	pending map[string]stored // updates the disk refused, newest per id
	touched map[string]bool   // directories Put wrote to since Open
	closed  bool

	recOpts []record.Option // how sidecars are read (the keyring of sealed ones)

	// Tests: called with each key count List examines; examined is the last.
	testHook func(n int)
	examined int
}

// Report says what Open did.
type Report struct {
	Rebuilt  bool   // the index was missing, unreadable or of another layout
	Why      string // why it was rebuilt
	Dirs     int    // directories rescanned
	Indexed  int    // sidecars read and indexed
	Removed  int    // entries dropped: their sidecar is gone
	Skipped  int    // sidecars that do not parse (left out)
	Duration time.Duration
}

// Option configures Open.
type Option func(*options)

type options struct {
	repair  func(dir string) error
	recOpts []record.Option
}

// WithRecordOptions sets how sidecars are read (record.WithKeyring for
// sealed recordings).
func WithRecordOptions(opts ...record.Option) Option {
	return func(o *options) { o.recOpts = append(o.recOpts, opts...) }
}

// WithRepair has Open call repair with the path of every directory it is
// about to rescan, first: the directories that changed since the last clean
// Close, which are where a crash can have left recordings open (hushd runs
// record.Repair there). On a rebuild that is every directory. An error
// stops Open.
func WithRepair(repair func(dir string) error) Option {
	return func(o *options) { o.repair = repair }
}

// Open opens (or creates) the index of root and brings it up to date with
// the sidecars on disk (see the package doc). ctx bounds the rescan.
func Open(ctx context.Context, root string, opts ...Option) (*Index, Report, error) {
	t0 := time.Now()
	var rep Report
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	path := filepath.Join(root, FileName)
	db, why, err := openDB(path)
	if err != nil {
		return nil, rep, err
	}
	// Put runs on a recorder's writer goroutine, and at a call's start on CreateSession's
	// path: wait little for others to share a commit.
	db.MaxBatchDelay = 2 * time.Millisecond
	x := &Index{root: root, db: db, pending: map[string]stored{}, touched: map[string]bool{}, recOpts: o.recOpts}
	if why != "" {
		rep.Rebuilt, rep.Why = true, why
	}
	if err := x.reconcile(ctx, &rep, o.repair); err != nil {
		db.Close()
		return nil, rep, err
	}
	rep.Duration = time.Since(t0)
	return x, rep, nil
}

// openDB opens the bbolt file, starting afresh when it is unreadable or of
// another layout; why says so.
func openDB(path string) (*bolt.DB, string, error) {
	opts := &bolt.Options{Timeout: 2 * time.Second}
	why := ""
	db, err := bolt.Open(path, 0o600, opts)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, "", fmt.Errorf("open %s: another hushd holds it: %w", path, err)
	}
	if err != nil {
		// Derived data: start again from the sidecars.
		why = "unreadable: " + err.Error()
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return nil, "", fmt.Errorf("open %s: %w", path, err)
		}
		if db, err = bolt.Open(path, 0o600, opts); err != nil {
			return nil, "", fmt.Errorf("open %s: %w", path, err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta != nil && string(meta.Get([]byte("version"))) == layoutVersion {
			return nil
		}
		if why == "" {
			why = "new"
			if meta != nil {
				why = "layout changed"
			}
		}
		for _, b := range allBuckets {
			if tx.Bucket(b) != nil {
				if err := tx.DeleteBucket(b); err != nil {
					return err
				}
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bMeta).Put([]byte("version"), []byte(layoutVersion))
	})
	if err != nil {
		db.Close()
		return nil, "", fmt.Errorf("init %s: %w", path, err)
	}
	return db, why, nil
}

// reconcile rescans the directories whose modification time is not the one
// recorded at the last clean Close, and forgets directories that are gone.
func (x *Index) reconcile(ctx context.Context, rep *Report, repair func(string) error) error {
	dirs, err := record.Dirs(x.root)
	if err != nil {
		return err
	}
	known := map[string]int64{}
	err = x.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bMeta).Cursor()
		for k, v := c.Seek([]byte("fp:")); k != nil && bytes.HasPrefix(k, []byte("fp:")); k, v = c.Next() {
			n, _ := strconv.ParseInt(string(v), 10, 64)
			known[string(k[3:])] = n
		}
		return nil
	})
	if err != nil {
		return err
	}
	onDisk := map[string]bool{}
	for _, d := range dirs {
		onDisk[d] = true
		mt, err := dirMtime(filepath.Join(x.root, d))
		if err != nil {
			return err
		}
		if fp, ok := known[d]; ok && fp == mt && !rep.Rebuilt {
			continue
		}
		if repair != nil {
			if err := repair(filepath.Join(x.root, d)); err != nil {
				return err
			}
			// Repair rewrites sidecars: the fingerprint is the directory after it.
			if mt, err = dirMtime(filepath.Join(x.root, d)); err != nil {
				return err
			}
		}
		if err := x.rescan(ctx, d, mt, rep); err != nil {
			return err
		}
		rep.Dirs++
	}
	for d := range known {
		if !onDisk[d] {
			if err := x.rescan(ctx, d, 0, rep); err != nil {
				return err
			}
			rep.Dirs++
		}
	}
	// Running: fingerprints are written again by a clean Close.
	return x.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("clean"), []byte("0")) })
}

func dirMtime(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.ModTime().UnixNano(), nil
}

// rescanBatch is how many sidecars one rescan transaction indexes.
const rescanBatch = 2000

// rescan indexes every sidecar of dir and drops the entries of dir whose
// sidecar is gone; mt is the directory's modification time read before the
// scan (0: the directory is gone).
func (x *Index) rescan(ctx context.Context, dir string, mt int64, rep *Report) error {
	present := map[string]bool{}
	if mt != 0 {
		ents, err := os.ReadDir(filepath.Join(x.root, dir))
		if err != nil {
			return err
		}
		var batch []Entry
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := x.db.Update(func(tx *bolt.Tx) error {
				for i := range batch {
					if err := putTx(tx, &batch[i]); err != nil {
						return err
					}
				}
				return nil
			})
			batch = batch[:0]
			return err
		}
		for i, e := range ents {
			if i%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			id, ok := strings.CutSuffix(e.Name(), ".json")
			if e.IsDir() || !ok || record.ValidateID(id) != nil {
				continue
			}
			sc, err := record.ReadSidecar(filepath.Join(x.root, dir, e.Name()), x.recOpts...)
			if err != nil || sc.RecordingID != id {
				rep.Skipped++
				continue
			}
			present[id] = true
			sc.Actions = nil
			batch = append(batch, Entry{Dir: dir, Sidecar: sc})
			rep.Indexed++
			if len(batch) == rescanBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return x.db.Update(func(tx *bolt.Tx) error {
		var gone []string
		c := tx.Bucket(bDir).Cursor()
		p := dirPrefix(dir)
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			if id := string(k[len(p):]); !present[id] {
				gone = append(gone, id)
			}
		}
		for _, id := range gone {
			if err := deleteTx(tx, id); err != nil {
				return err
			}
			rep.Removed++
		}
		meta := tx.Bucket(bMeta)
		if mt == 0 {
			return meta.Delete([]byte("fp:" + dir))
		}
		return meta.Put([]byte("fp:"+dir), []byte(strconv.FormatInt(mt, 10)))
	})
}

// putTx writes e and its secondary keys, replacing an older version's.
func putTx(tx *bolt.Tx, e *Entry) error {
	id := e.Sidecar.RecordingID
	if err := deleteTx(tx, id); err != nil {
		return err
	}
	s := toStored(e.Dir, &e.Sidecar)
	v, err := s.marshal()
	if err != nil {
		return err
	}
	if err := tx.Bucket(bRecs).Put([]byte(id), v); err != nil {
		return err
	}
	return secondary(tx, id, &s, func(b *bolt.Bucket, k []byte) error { return b.Put(k, nil) })
}

// deleteTx removes id and its secondary keys, if it is there.
func deleteTx(tx *bolt.Tx, id string) error {
	recs := tx.Bucket(bRecs)
	old := recs.Get([]byte(id))
	if old == nil {
		return nil
	}
	s, err := unmarshal(old)
	if err != nil {
		// A damaged entry: its secondary keys cannot be found this way; they
		// are skipped by List (no entry) and go with the next rebuild.
		return recs.Delete([]byte(id))
	}
	if err := secondary(tx, id, &s, func(b *bolt.Bucket, k []byte) error { return b.Delete(k) }); err != nil {
		return err
	}
	return recs.Delete([]byte(id))
}

// secondary applies op to every secondary key of an entry.
func secondary(tx *bolt.Tx, id string, s *stored, op func(*bolt.Bucket, []byte) error) error {
	sk := sortKey(s.Start, id)
	if err := op(tx.Bucket(bStart), sk); err != nil {
		return err
	}
	if s.Call != "" {
		if err := op(tx.Bucket(bCall), join(callPrefix(s.Call), sk)); err != nil {
			return err
		}
	}
	if s.Agent != "" {
		if err := op(tx.Bucket(bAgent), join(agentPrefix(s.Agent), sk)); err != nil {
			return err
		}
	}
	for k, v := range s.Labels {
		if err := op(tx.Bucket(bLabel), join(labelPrefix(k, v), sk)); err != nil {
			return err
		}
	}
	if s.RetainUntil != 0 && s.Hold == nil {
		if err := op(tx.Bucket(bExpire), expireKey(s.RetainUntil, id)); err != nil {
			return err
		}
	}
	return op(tx.Bucket(bDir), join(dirPrefix(s.Dir), []byte(id)))
}

// Delete forgets recording id (erased, or deleted at the end of its
// retention). Deleting an unknown id is not an error.
func (x *Index) Delete(id string) error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return ErrClosed
	}
	delete(x.pending, id)
	x.mu.Unlock()
	err := x.db.Update(func(tx *bolt.Tx) error { return deleteTx(tx, id) })
	if err != nil {
		return fmt.Errorf("index %s: %w", id, err)
	}
	return nil
}

// Expired returns up to limit recordings whose retention ended before now
// and that are not on legal hold, the oldest retention first.
func (x *Index) Expired(ctx context.Context, now time.Time, limit int) ([]Entry, error) {
	var out []Entry
	err := x.db.View(func(tx *bolt.Tx) error {
		recs := tx.Bucket(bRecs)
		c := tx.Bucket(bExpire).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(k) <= 8 || int64(binary.BigEndian.Uint64(k)) >= now.UnixNano() {
				break
			}
			id := string(k[8:])
			v := recs.Get([]byte(id))
			if v == nil {
				continue
			}
			s, err := unmarshal(v)
			if err != nil {
				continue
			}
			out = append(out, s.entry(id))
		}
		return nil
	})
	return out, err
}

// Put records the sidecar sc of a recording in directory dir (relative to
// the root). When the disk refuses the update it is kept in memory, answered
// from there, and retried with the next Put; the error says so.
func (x *Index) Put(dir string, sc *record.Sidecar) error {
	if err := record.ValidDir(dir); err != nil {
		return err
	}
	e := Entry{Dir: dir, Sidecar: *sc}
	e.Sidecar.Actions = nil
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return ErrClosed
	}
	x.touched[dir] = true
	if p, ok := x.pending[sc.RecordingID]; ok && p.Rev > sc.Revision {
		x.mu.Unlock()
		return nil // older than what is waiting
	}
	delete(x.pending, sc.RecordingID)
	retry := make([]Entry, 0, len(x.pending))
	for id, p := range x.pending {
		retry = append(retry, p.entry(id))
	}
	x.mu.Unlock()
	// Batch: the updates of many recorders share one commit.
	err := x.db.Batch(func(tx *bolt.Tx) error {
		for i := range retry {
			if err := putTx(tx, &retry[i]); err != nil {
				return err
			}
		}
		return putTx(tx, &e)
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	if err != nil {
		if p, ok := x.pending[sc.RecordingID]; !ok || p.Rev <= sc.Revision {
			x.pending[sc.RecordingID] = toStored(dir, &e.Sidecar)
		}
		return fmt.Errorf("index %s: %w", sc.RecordingID, err)
	}
	for _, r := range retry {
		if p, ok := x.pending[r.Sidecar.RecordingID]; ok && p.Rev == r.Sidecar.Revision {
			delete(x.pending, r.Sidecar.RecordingID)
		}
	}
	return nil
}

// overlay returns the pending version of id when there is one newer than s.
func (x *Index) overlay(id string, s stored, ok bool) (stored, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p, has := x.pending[id]; has && (!ok || p.Rev >= s.Rev) {
		return p, true
	}
	return s, ok
}

// Get returns the entry of one recording (ErrNotFound when unknown). id must
// already be a valid recording id (record.ValidateID).
func (x *Index) Get(ctx context.Context, id string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	var s stored
	var ok bool
	err := x.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bRecs).Get([]byte(id))
		if v == nil {
			return nil
		}
		var err error
		s, err = unmarshal(v)
		ok = err == nil
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("index %s: %w", id, err)
	}
	if s, ok = x.overlay(id, s, ok); !ok {
		return Entry{}, ErrNotFound
	}
	return s.entry(id), nil
}

// Sidecar returns the full sidecar of one recording, read from its file,
// and its directory. When the index holds a newer version than the file
// (the disk refused the last write) the index's fields win; the action list
// is the file's.
func (x *Index) Sidecar(ctx context.Context, id string) (record.Sidecar, string, error) {
	e, err := x.Get(ctx, id)
	if err != nil {
		return record.Sidecar{}, "", err
	}
	if err := record.ValidDir(e.Dir); err != nil {
		return record.Sidecar{}, "", err
	}
	sc, err := record.Get(filepath.Join(x.root, e.Dir), id, x.recOpts...)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return record.Sidecar{}, "", ErrNotFound
		}
		return e.Sidecar, e.Dir, nil // unreadable file: what the index knows
	}
	if e.Sidecar.Revision > sc.Revision {
		actions := sc.Actions
		sc = e.Sidecar
		sc.Actions = actions
	}
	return sc, e.Dir, nil
}

// Path returns the directory holding the files of recording id.
func (x *Index) Path(ctx context.Context, id string) (string, error) {
	if err := record.ValidateID(id); err != nil {
		return "", err
	}
	e, err := x.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if err := record.ValidDir(e.Dir); err != nil {
		return "", err
	}
	return filepath.Join(x.root, e.Dir), nil
}

// Close retries what the disk refused, records the fingerprints of the
// directories written to (unless an update is still missing there, so the
// next Open rescans them) and closes the file.
func (x *Index) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	pending := x.pending
	touched := x.touched
	x.mu.Unlock()
	err := x.db.Update(func(tx *bolt.Tx) error {
		for id, p := range pending {
			e := p.entry(id)
			if err := putTx(tx, &e); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		for d := range touched {
			mt, err := dirMtime(filepath.Join(x.root, d))
			if err != nil {
				continue
			}
			if err := meta.Put([]byte("fp:"+d), []byte(strconv.FormatInt(mt, 10))); err != nil {
				return err
			}
		}
		return meta.Put([]byte("clean"), []byte("1"))
	})
	if err != nil {
		// Leave the fingerprints of the touched directories stale: the next
		// Open rescans them.
		_ = x.db.Update(func(tx *bolt.Tx) error {
			for d := range touched {
				if err := tx.Bucket(bMeta).Delete([]byte("fp:" + d)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return errors.Join(err, x.db.Close())
}

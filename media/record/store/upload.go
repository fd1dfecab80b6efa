package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
)

// UploadEvents tell the operator what the uploader does (hushd logs them).
type UploadEvents struct {
	// Failed: an upload failed; the recording waits on disk and is retried
	// after retryIn. backlog is how many wait.
	Failed func(id string, err error, retryIn time.Duration, backlog int)
	// Uploaded: the store holds the recording whole; its local WAV is gone.
	Uploaded func(id string, backlog int)
}

// uploader is the manager's queue of recordings waiting for the store.
type uploader struct {
	mu      sync.Mutex
	pending map[string]bool
	order   []string
	wake    chan struct{}
	backlog atomic.Int64
}

// Backlog is the number of finished recordings waiting on the local disk
// for the object store.
func (m *Manager) Backlog() int { return int(m.up.backlog.Load()) }

// Enqueue asks for recording id to be uploaded (once it is finished).
// Without an object store it does nothing. It never blocks.
func (m *Manager) Enqueue(id string) {
	if m.o.Objects == nil {
		return
	}
	u := &m.up
	u.mu.Lock()
	if !u.pending[id] {
		u.pending[id] = true
		u.order = append(u.order, id)
		u.backlog.Store(int64(len(u.pending)))
	}
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Finished is for the recorder's sidecar callback: it enqueues a recording
// whose sidecar says it is complete or repaired.
func (m *Manager) Finished(sc *record.Sidecar) {
	if sc.Location == "" && (sc.Status == record.StatusComplete || sc.Status == record.StatusRepaired) {
		m.Enqueue(sc.RecordingID)
	}
}

// RunUploads uploads queued recordings until ctx is done: first the
// finished recordings the index holds that are still local (a store that
// was down, a restart), then each one Enqueue names. A failed upload is
// retried after a backoff that doubles from minBackoff to maxBackoff, and
// the recording waits on disk meanwhile.
func (m *Manager) RunUploads(ctx context.Context, minBackoff, maxBackoff time.Duration) {
	if m.o.Objects == nil {
		return
	}
	m.enqueueLocal(ctx)
	backoff := minBackoff
	var retry <-chan time.Time
	for {
		id, ok := m.next()
		if !ok || retry != nil {
			select {
			case <-ctx.Done():
				return
			case <-m.up.wake:
				if retry != nil {
					continue // wait out the backoff
				}
			case <-retry:
				retry = nil
			}
			continue
		}
		err := m.Upload(ctx, id)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil || errors.Is(err, ErrNotFound):
			m.done(id)
			backoff = minBackoff
			if err == nil && m.o.Events.Uploaded != nil {
				m.o.Events.Uploaded(id, m.Backlog())
			}
		case errors.Is(err, ErrInProgress), errors.Is(err, ErrBusy):
			m.done(id) // enqueued again when it finishes, or left to the next start
		default:
			if m.o.Events.Failed != nil {
				m.o.Events.Failed(id, err, backoff, m.Backlog())
			}
			t := time.NewTimer(backoff)
			retry = t.C
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// next is the oldest queued recording.
func (m *Manager) next() (string, bool) {
	u := &m.up
	u.mu.Lock()
	defer u.mu.Unlock()
	for len(u.order) > 0 {
		if id := u.order[0]; u.pending[id] {
			return id, true
		}
		u.order = u.order[1:]
	}
	return "", false
}

func (m *Manager) done(id string) {
	u := &m.up
	u.mu.Lock()
	delete(u.pending, id)
	if len(u.order) > 0 && u.order[0] == id {
		u.order = u.order[1:]
	}
	u.backlog.Store(int64(len(u.pending)))
	u.mu.Unlock()
}

// enqueueLocal queues every finished recording the index holds whose audio
// is still only on the local disk.
func (m *Manager) enqueueLocal(ctx context.Context) {
	q := index.Query{Limit: 1000}
	for range 100_000 {
		page, next, err := m.o.Index.List(ctx, q)
		if err != nil {
			return
		}
		for i := range page {
			m.Finished(&page[i].Sidecar)
		}
		if next == "" {
			return
		}
		q.After = next
	}
}

// Upload moves recording id to the object store: its WAV (as it is on disk,
// sealed or plain) and its sidecar are uploaded and read back against the
// SHA-256 of the local files, the sidecar is told the WAV's object key
// (Location), and only then is the local WAV removed.
func (m *Manager) Upload(ctx context.Context, id string) error {
	if m.o.Objects == nil {
		return nil
	}
	if err := m.lock(id); err != nil {
		return err
	}
	defer m.unlock(id)
	sc, dir, err := m.sidecar(ctx, id)
	if err != nil {
		return err
	}
	abs := filepath.Join(m.o.Root, dir)
	if sc.Status == record.StatusInProgress {
		return fmt.Errorf("%w: %s", ErrInProgress, id)
	}
	if sc.Location != "" {
		// Uploaded before a crash removed the local copy: remove it now.
		return record.RemoveWAV(abs, id, m.o.Record...)
	}
	wavKey := ObjectKey(dir, id+".wav")
	for _, name := range []string{id + ".wav", id + ".json"} {
		path := filepath.Join(abs, name)
		sum, err := fileSHA256(path)
		if err != nil {
			return err
		}
		if err := m.o.Objects.Put(ctx, ObjectKey(dir, name), path, sum); err != nil {
			return fmt.Errorf("%w: upload %s: %w", ErrObjectStore, name, err)
		}
	}
	sc, err = record.UpdateSidecar(abs, id, func(sc *record.Sidecar) error {
		sc.Location = wavKey
		return nil
	}, m.o.Record...)
	if err != nil {
		return err
	}
	_ = m.o.Index.Put(dir, &sc) // the sidecar on disk is the truth; the index catches up at start
	return record.RemoveWAV(abs, id, m.o.Record...)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
)

// Objects is the object store: a recording's files under keys. Uploader and
// an S3 client (S3) provide it.
type Objects interface {
	// Put uploads the local file at path as key, resuming a multipart
	// upload already begun, and returns once the store holds it whole and it
	// reads back with the given SHA-256 (hex) of the file's bytes.
	Put(ctx context.Context, key, path string, sha256hex string) error
	// Open opens an object for reading.
	Open(ctx context.Context, key string) (ReadAtCloser, int64, error)
	// Delete removes an object (and any unfinished upload of it); an
	// object that is not there is not an error.
	Delete(ctx context.Context, key string) error
}

// ReadAtCloser reads an object at offsets.
type ReadAtCloser interface {
	io.ReaderAt
	io.Closer
}

// Clock tells the time; tests inject a fake one.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Erased says what Erase removed.
type Erased struct {
	RecordingID string
	Local       bool // files on the local disk
	Objects     bool // objects in the object store
}

// Options configure a Manager.
type Options struct {
	Root    string       // the recordings directory
	Index   *index.Index // the recordings index
	Record  []record.Option
	Objects Objects // nil: recordings stay on the local disk
	Clock   Clock   // nil: time.Now
	// OnDelete is called after a recording was deleted at the end of its
	// retention (hushd audits it).
	OnDelete func(Erased)
	// Events report uploads to the object store.
	Events UploadEvents
}

// Manager runs retention, legal holds and erasure over one recordings root.
type Manager struct {
	o    Options
	mu   sync.Mutex
	busy map[string]bool
	up   uploader
}

// New returns a Manager.
func New(o Options) *Manager {
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return &Manager{o: o, busy: map[string]bool{}, up: uploader{pending: map[string]bool{}, wake: make(chan struct{}, 1)}}
}

// lock marks id busy; unlock must follow.
func (m *Manager) lock(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy[id] {
		return fmt.Errorf("%w: %s", ErrBusy, id)
	}
	m.busy[id] = true
	return nil
}

func (m *Manager) unlock(id string) {
	m.mu.Lock()
	delete(m.busy, id)
	m.mu.Unlock()
}

// ObjectKey is the object key of a recording's file (name: "<id>.wav" or
// "<id>.json") filed under the recording's directory.
func ObjectKey(dir, name string) string {
	if dir == "" {
		return name
	}
	return filepath.ToSlash(dir) + "/" + name
}

// sidecar reads the recording's sidecar and directory.
func (m *Manager) sidecar(ctx context.Context, id string) (record.Sidecar, string, error) {
	if err := record.ValidateID(id); err != nil {
		return record.Sidecar{}, "", err
	}
	sc, dir, err := m.o.Index.Sidecar(ctx, id)
	if errors.Is(err, index.ErrNotFound) {
		return record.Sidecar{}, "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return sc, dir, err
}

// Erase removes recording id everywhere: its objects in the object store,
// then its local files, then its index entry. A recording on legal hold
// (ErrHeld) or still being written (ErrInProgress) is refused; when the
// object store fails nothing local is removed, so a retry finds it all.
func (m *Manager) Erase(ctx context.Context, id string) (Erased, error) {
	if err := m.lock(id); err != nil {
		return Erased{}, err
	}
	defer m.unlock(id)
	return m.erase(ctx, id, false)
}

func (m *Manager) erase(ctx context.Context, id string, expired bool) (Erased, error) {
	out := Erased{RecordingID: id}
	sc, dir, err := m.sidecar(ctx, id)
	if err != nil {
		return out, err
	}
	switch {
	case sc.Status == record.StatusInProgress:
		return out, fmt.Errorf("%w: %s", ErrInProgress, id)
	case sc.LegalHold != nil:
		return out, fmt.Errorf("%w: %s", ErrHeld, id)
	case expired && (sc.RetainUntil.IsZero() || !sc.RetainUntil.Before(m.o.Clock.Now())):
		return out, nil // not expired after all (the index was behind)
	}
	if m.o.Objects != nil {
		for _, name := range []string{id + ".wav", id + ".json"} {
			if err := m.o.Objects.Delete(ctx, ObjectKey(dir, name)); err != nil {
				return out, fmt.Errorf("%w: delete %s: %w", ErrObjectStore, name, err)
			}
		}
		out.Objects = true
	}
	abs := filepath.Join(m.o.Root, dir)
	removeUploadState(abs, id)
	if err := record.Remove(abs, id, m.o.Record...); err != nil {
		return out, err
	}
	out.Local = true
	if err := m.o.Index.Delete(id); err != nil {
		return out, err
	}
	return out, nil
}

// SetHold places (hold not nil) or lifts (nil) a legal hold on recording
// id. It returns the sidecar as it now is.
func (m *Manager) SetHold(ctx context.Context, id string, hold *record.Hold) (record.Sidecar, error) {
	if err := m.lock(id); err != nil {
		return record.Sidecar{}, err
	}
	defer m.unlock(id)
	_, dir, err := m.sidecar(ctx, id)
	if err != nil {
		return record.Sidecar{}, err
	}
	sc, err := record.UpdateSidecar(filepath.Join(m.o.Root, dir), id, func(sc *record.Sidecar) error {
		sc.LegalHold = hold
		return nil
	}, m.o.Record...)
	if errors.Is(err, record.ErrInProgress) {
		return record.Sidecar{}, fmt.Errorf("%w: %s", ErrInProgress, id)
	}
	if err != nil {
		return record.Sidecar{}, err
	}
	if err := m.o.Index.Put(dir, &sc); err != nil {
		return sc, err
	}
	return sc, nil
}

// Sweep erases every recording whose retention ended by the clock and that
// is not on legal hold, and returns what it erased. A recording that
// cannot be erased now (busy, the object store down) is left for the next
// sweep; the first such error is returned with the rest done.
func (m *Manager) Sweep(ctx context.Context) ([]Erased, error) {
	var out []Erased
	var first error
	skip := map[string]bool{}
	for range 1000 { // batches; bounded
		batch, err := m.o.Index.Expired(ctx, m.o.Clock.Now(), 100+len(skip))
		if err != nil {
			return out, err
		}
		progress := false
		for _, e := range batch {
			id := e.Sidecar.RecordingID
			if skip[id] {
				continue
			}
			if err := m.lock(id); err != nil {
				skip[id] = true
				continue
			}
			er, err := m.erase(ctx, id, true)
			m.unlock(id)
			if err != nil || !er.Local {
				skip[id] = true
				if err != nil && first == nil {
					first = err
				}
				continue
			}
			progress = true
			out = append(out, er)
			if m.o.OnDelete != nil {
				m.o.OnDelete(er)
			}
		}
		if !progress {
			break
		}
	}
	return out, first
}

// Open opens the audio of recording id for reading, as a plain WAV: from
// the local disk, or from the object store once it was moved there.
func (m *Manager) Open(ctx context.Context, id string) (*record.WAV, record.Sidecar, error) {
	sc, dir, err := m.sidecar(ctx, id)
	if err != nil {
		return nil, sc, err
	}
	if sc.Location == "" || m.o.Objects == nil {
		w, err := record.OpenWAV(filepath.Join(m.o.Root, dir), id, m.o.Record...)
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %s has no audio file", ErrNotFound, id)
		}
		return w, sc, err
	}
	obj, size, err := m.o.Objects.Open(ctx, sc.Location)
	if err != nil {
		return nil, sc, fmt.Errorf("%w: open %s: %w", ErrObjectStore, sc.Location, err)
	}
	w, err := record.ReadWAV(obj, size, id, m.o.Record...)
	if err != nil {
		obj.Close()
		return nil, sc, err
	}
	return &record.WAV{ReaderAt: w.ReaderAt, Size: w.Size, Sealed: w.Sealed, Complete: w.Complete, Closer: obj}, sc, nil
}

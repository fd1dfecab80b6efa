package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// UpdateSidecar changes the sidecar of a finished recording (a legal hold,
// the object-store location): it reads it, lets update change it, bumps
// its revision and writes it back atomically, sealed again with the
// recording's data key when it was sealed. A recording still being written
// belongs to its recorder: ErrInProgress. Options: WithFS, WithKeyring.
func UpdateSidecar(dir, id string, update func(*Sidecar) error, opts ...Option) (Sidecar, error) {
	if err := ValidateID(id); err != nil {
		return Sidecar{}, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return Sidecar{}, err
	}
	sc, key, err := readSidecar(cfg, filepath.Join(dir, id+".json"))
	if err != nil {
		return Sidecar{}, err
	}
	if sc.Status == StatusInProgress {
		return Sidecar{}, fmt.Errorf("update %s: %w", id, ErrInProgress)
	}
	if err := update(&sc); err != nil {
		return Sidecar{}, err
	}
	sc.Revision++
	if err := writeSidecar(cfg.fs, dir, &sc, key); err != nil {
		return Sidecar{}, fmt.Errorf("update %s: %w", id, err)
	}
	return sc, nil
}

// Remove deletes every local file of recording id in dir (WAV, sidecar, and
// temporary files a crash left), then fsyncs the directory. Files already
// gone are not an error. Options: WithFS.
func Remove(dir, id string, opts ...Option) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return err
	}
	var errs []error
	for _, suffix := range []string{".wav", ".wav.tmp", ".json", ".json.tmp"} {
		if err := cfg.fs.Remove(filepath.Join(dir, id+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return cfg.fs.SyncDir(dir)
}

// RemoveWAV deletes the local WAV of recording id in dir (once the object
// store holds it) and fsyncs the directory. Options: WithFS.
func RemoveWAV(dir, id string, opts ...Option) error {
	path, err := WAVPath(dir, id)
	if err != nil {
		return err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return err
	}
	if err := cfg.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return cfg.fs.SyncDir(dir)
}

package store

import (
	"errors"
	"os"
	"path/filepath"
)

// uploadStateName is the file beside a recording that holds its unfinished
// multipart upload's id, so an upload interrupted by a store outage or a
// restart goes on from the parts the store already has.
func uploadStateName(dir, id string) string { return filepath.Join(dir, id+".upload") }

func removeUploadState(dir, id string) {
	if err := os.Remove(uploadStateName(dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = err // best effort: a stale state only makes the next upload start afresh
	}
}

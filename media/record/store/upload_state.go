package store

import (
	"errors"
	"os"
	"path/filepath"
)

// removeUploadState removes the files beside a recording's files that hold
// their unfinished multipart uploads' ids (see S3.Put).
func removeUploadState(dir, id string) {
	for _, name := range []string{id + ".wav.upload", id + ".json.upload"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = err // best effort: a stale state only makes the next upload start afresh
		}
	}
}

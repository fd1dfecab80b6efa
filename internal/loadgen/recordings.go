package loadgen

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// CountRecordings counts the WAV files under dir (hushd files them by day,
// dir/YYYY/MM/DD) that hold more than a header (44 bytes, RIFF/WAVE with one fmt and one
// data chunk) and their total size: what a relay recording every call wrote.
func CountRecordings(dir string) (n int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".wav") {
			return nil
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		bytes += st.Size()
		if st.Size() > 44 {
			n++
		}
		return nil
	})
	return n, bytes, err
}

package loadgen

import (
	"os"
	"path/filepath"
	"strings"
)

// CountRecordings counts the WAV files in dir that hold more than a header (44 bytes,
// RIFF/WAVE with one fmt and one data chunk) and their total size: what a relay recording
// every call wrote.
func CountRecordings(dir string) (n int, bytes int64, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".wav") {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			return n, bytes, err
		}
		bytes += st.Size()
		if st.Size() > 44 {
			n++
		}
	}
	return n, bytes, nil
}

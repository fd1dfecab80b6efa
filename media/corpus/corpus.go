// Package corpus locates the speech corpus that hush's talk-off, masking and load runs play:
// the Asterisk English prompts, about 25 minutes of 8 kHz 16-bit mono speech from Debian's
// asterisk-core-sounds-en-wav.
//
// That package installs its files under a voice directory (en_US_f_Allison); the shorter
// "en" link comes from asterisk-core-sounds-en, which only Recommends it, so a machine that
// installs without recommends has no "en". Dir looks in both, and HUSH_SPEECH_DIR overrides.
package corpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Package is the Debian package that provides the corpus.
const Package = "asterisk-core-sounds-en-wav"

// EnvDir names the environment variable that points at another directory of 8 kHz 16-bit
// mono WAV prompts.
const EnvDir = "HUSH_SPEECH_DIR"

// debianDirs are where Debian puts the prompts: the package's own directory first, then the
// link a Recommends adds.
var debianDirs = []string{
	"/usr/share/asterisk/sounds/en_US_f_Allison",
	"/usr/share/asterisk/sounds/en",
}

// ErrMissing is returned when no directory holds the prompts; its message names what to
// install.
var ErrMissing = errors.New("speech corpus missing: install Debian package " + Package +
	" (or set " + EnvDir + ")")

// Dir returns the first directory that holds *.wav prompts: $HUSH_SPEECH_DIR when set
// (and then only it), else Debian's.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if hasWAV(d) {
			return d, nil
		}
		return "", fmt.Errorf("%w: %s=%s holds no .wav files", ErrMissing, EnvDir, d)
	}
	for _, d := range debianDirs {
		if hasWAV(d) {
			return d, nil
		}
	}
	return "", ErrMissing
}

// Files returns the corpus's WAV files in name order, so every run plays the same speech.
func Files() ([]string, error) {
	d, err := Dir()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(d, "*.wav"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

func hasWAV(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	return len(m) > 0
}

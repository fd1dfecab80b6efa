// Package corpus locates and reads the speech corpus that hush's talk-off, masking and load
// runs play: the Asterisk English prompts, about 25 minutes of 8 kHz 16-bit mono speech from
// Debian's asterisk-core-sounds-en-wav.
//
// That package installs its files under a voice directory (en_US_f_Allison); the shorter
// "en" link comes from asterisk-core-sounds-en, which only Recommends it, so a machine that
// installs without recommends has no "en". Dir looks in both, and HUSH_SPEECH_DIR overrides.
//
// Files are the prompts at the top of the directory (about 21 minutes), which the masking
// tests and load runs draw speech from; AllFiles adds the subdirectories (digits, letters,
// phonetic, ...), the whole corpus that talk-off is judged on.
package corpus

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// Rate is the corpus's sample rate.
const Rate = 8000

// Dir returns the first directory that holds *.wav prompts: $HUSH_SPEECH_DIR when set
// (and then only it), else Debian's.
func Dir() (string, error) { return firstDir(EnvDir, debianDirs, ErrMissing) }

// firstDir returns $env's directory when set (and then only it, failing when it holds no
// .wav files), else the first of dirs that holds some; missing when none does.
func firstDir(env string, dirs []string, missing error) (string, error) {
	if d := os.Getenv(env); d != "" {
		if hasWAV(d) {
			return d, nil
		}
		return "", fmt.Errorf("%w: %s=%s holds no .wav files", missing, env, d)
	}
	for _, d := range dirs {
		if hasWAV(d) {
			return d, nil
		}
	}
	return "", missing
}

// Files returns the corpus's WAV files in name order, so every run plays the same speech.
func Files() ([]string, error) { return wavFiles(Dir) }

// wavFiles returns the *.wav files of the directory dir finds, in name order.
func wavFiles(dir func() (string, error)) ([]string, error) {
	d, err := dir()
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

// AllFiles returns every WAV file of the corpus, subdirectories included, in path order.
func AllFiles() ([]string, error) {
	d, err := Dir()
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.IsDir() && strings.HasSuffix(p, ".wav") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Speech returns n samples of the prompts of Files played end to end, starting skip samples
// in. It reads only the files it needs. Too little speech is an error wrapping ErrShort.
func Speech(n, skip int) ([]int16, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	out, skip0 := make([]int16, 0, n), skip
	for _, f := range files {
		if len(out) >= n {
			break
		}
		pcm, err := Read(f)
		if err != nil {
			return nil, err
		}
		if skip >= len(pcm) {
			skip -= len(pcm)
			continue
		}
		out = append(out, pcm[skip:]...)
		skip = 0
	}
	if len(out) < n {
		return nil, fmt.Errorf("%w: %d samples wanted, the corpus in %s has %d after the first %d",
			ErrShort, n, filepath.Dir(files[0]), len(out), skip0)
	}
	return out[:n], nil
}

// Read returns the samples of one prompt, an 8 kHz 16-bit mono PCM WAV file. Anything else
// is an error wrapping ErrFormat that names the file.
func Read(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bad := func(why string) error { return fmt.Errorf("%s: %w (%s)", path, ErrFormat, why) }
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, bad("no RIFF/WAVE header")
	}
	fmtOK := false
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8 : off+8+min(size, len(b)-off-8)]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, bad("short fmt chunk")
			}
			format, ch := binary.LittleEndian.Uint16(body[0:]), binary.LittleEndian.Uint16(body[2:])
			rate, bits := binary.LittleEndian.Uint32(body[4:]), binary.LittleEndian.Uint16(body[14:])
			if format != 1 || ch != 1 || rate != Rate || bits != 16 {
				return nil, bad(fmt.Sprintf("format %d, %d channels, %d Hz, %d bits", format, ch, rate, bits))
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, bad("data before fmt")
			}
			pcm := make([]int16, len(body)/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return pcm, nil
		}
		off += 8 + size + size&1
	}
	return nil, bad("no data chunk")
}

func hasWAV(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	return len(m) > 0
}

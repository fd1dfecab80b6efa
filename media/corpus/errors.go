package corpus

import "errors"

// ErrMissing is returned when no directory holds the prompts; its message names what to
// install.
var ErrMissing = errors.New("speech corpus missing: install Debian package " + Package +
	" (or set " + EnvDir + ")")

// ErrShort is returned when the corpus holds less speech than asked for.
var ErrShort = errors.New("speech corpus too short")

// ErrFormat is returned for a prompt that is not 8 kHz 16-bit mono PCM WAV.
var ErrFormat = errors.New("not an 8 kHz 16-bit mono PCM WAV file")

// ErrMusicMissing is returned when no directory holds the music on hold; its message names
// what to install.
var ErrMusicMissing = errors.New("music corpus missing: install Debian package " + MusicPackage +
	" (or set " + EnvMusicDir + ")")

package corpus

// MusicPackage is the Debian package that provides the music corpus: Asterisk's music on
// hold (the opsound collection), about 18 minutes of 8 kHz 16-bit mono tracks.
const MusicPackage = "asterisk-moh-opsound-wav"

// EnvMusicDir names the environment variable that points at another directory of 8 kHz
// 16-bit mono WAV music.
const EnvMusicDir = "HUSH_MUSIC_DIR"

// musicDirs are where Debian puts the music on hold.
var musicDirs = []string{"/usr/share/asterisk/moh"}

// MusicDir returns the first directory that holds *.wav music: $HUSH_MUSIC_DIR when set
// (and then only it), else Debian's.
func MusicDir() (string, error) { return firstDir(EnvMusicDir, musicDirs, ErrMusicMissing) }

// MusicFiles returns the music corpus's WAV files in name order.
func MusicFiles() ([]string, error) { return wavFiles(MusicDir) }

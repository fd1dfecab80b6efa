package record

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hushmedia/hush/media/record/seal"
)

// sealedFile is a recording's WAV sealed at rest: a File whose reads and
// writes are of the plaintext WAV, appended to the file on disk as sealed
// records (package seal). The writer goroutine owns it: the packet path
// never sees it.
type sealedFile struct {
	w    *seal.Writer
	name string
}

func (s *sealedFile) Write(p []byte) (int, error) { return s.w.WriteAt(p, s.w.Size()) }
func (s *sealedFile) WriteAt(p []byte, off int64) (int, error) {
	return s.w.WriteAt(p, off)
}
func (s *sealedFile) ReadAt(p []byte, off int64) (int, error) { return s.w.ReadAt(p, off) }
func (s *sealedFile) Sync() error                             { return s.w.Sync() }
func (s *sealedFile) Close() error                            { return s.w.Close() }

// Truncate is not needed by a writer: Repair rewrites a sealed file whole.
func (s *sealedFile) Truncate(int64) error {
	return fmt.Errorf("truncate %s: a sealed file only grows", s.name)
}

// Stat reports the plaintext size.
func (s *sealedFile) Stat() (os.FileInfo, error) {
	return plainInfo{name: filepath.Base(s.name), size: s.w.Size()}, nil
}

// finish appends the final record: the file is complete.
func (s *sealedFile) finish() error { return s.w.Finish() }

type plainInfo struct {
	name string
	size int64
}

func (i plainInfo) Name() string       { return i.name }
func (i plainInfo) Size() int64        { return i.size }
func (i plainInfo) Mode() os.FileMode  { return 0o600 }
func (i plainInfo) ModTime() time.Time { return time.Time{} }
func (i plainInfo) IsDir() bool        { return false }
func (i plainInfo) Sys() any           { return nil }

// isSealedFile reports whether the file at path starts with the sealed magic.
func isSealedFile(fsys FS, path string) (bool, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [len(seal.Magic)]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && err != io.EOF {
		return false, err
	}
	return seal.IsSealed(b[:n]), nil
}

// WAV is a recording's audio as a plain WAV, whether it is stored plain or
// sealed: ReadAt reads the plaintext.
type WAV struct {
	io.ReaderAt
	// Size is the plaintext WAV's size.
	Size int64
	// Sealed says the file on disk is sealed.
	Sealed bool
	// Complete is nil for a plain file and for a sealed file that ends with
	// its final record; else seal.ErrTruncated, saying where it stops.
	Complete error
	// Closer closes what the WAV reads from.
	Closer io.Closer
}

// Close closes the file.
func (w *WAV) Close() error { return w.Closer.Close() }

// OpenWAV opens the audio of recording id in dir for reading. A sealed file
// is authenticated whole first: an altered one is seal.ErrTampered, saying
// which record. Options: WithFS, WithKeyring.
func OpenWAV(dir, id string, opts ...Option) (*WAV, error) {
	path, err := WAVPath(dir, id)
	if err != nil {
		return nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	f, err := cfg.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return openWAVFile(cfg, f, st.Size(), id)
}

// ReadWAV is OpenWAV for a reader: a sealed or plain WAV of size bytes.
func ReadWAV(r io.ReaderAt, size int64, id string, opts ...Option) (*WAV, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return openWAVFile(cfg, nopReaderCloser{r}, size, id)
}

type nopReaderCloser struct{ io.ReaderAt }

func (nopReaderCloser) Close() error { return nil }

func openWAVFile(cfg *config, f interface {
	io.ReaderAt
	io.Closer
}, size int64, id string) (*WAV, error) {
	var b [len(seal.Magic)]byte
	n, _ := f.ReadAt(b[:], 0)
	if !seal.IsSealed(b[:n]) {
		return &WAV{ReaderAt: f, Size: size, Closer: f}, nil
	}
	r, err := seal.Open(f, size, cfg.keyring, id)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	return &WAV{ReaderAt: r, Size: r.Size(), Sealed: true, Complete: r.Complete(), Closer: f}, nil
}

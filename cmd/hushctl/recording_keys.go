package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hushmedia/hush/media/record/seal"
)

// offlineRecordingVerbs run without hushd, on files, with the key file.
var offlineRecordingVerbs = map[string]func(a *app, args []string) error{
	"decrypt": (*app).recordingDecrypt,
	"rewrap":  (*app).recordingRewrap,
	"keygen":  (*app).recordingKeygen,
}

const offlineRecordingUsage = `  recording decrypt --key-file F FILE [-o OUT] [--partial]
                               decrypt a recording's .wav or .json sealed at rest; an
                               altered file fails naming the record and byte
  recording rewrap --key-file F DIR...
                               rewrap every sealed recording under DIR with the key
                               file's current key (after rotation; the audio is not
                               re-encrypted); recordings in progress are skipped
  recording keygen --key-file F
                               add a new key-encryption key (new recordings use it once
                               hushd restarts; old ones still open); creates F (0600)
`

func offlineFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("hushctl recording "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.String("key-file", "", "the recording key file (recording.key_file of hushd)")
}

func (a *app) loadKeys(path string) (*seal.FileKeyring, error) {
	if path == "" {
		return nil, usageErrorf("--key-file is required")
	}
	return seal.LoadKeyFile(path)
}

// recordingDecrypt runs "recording decrypt": an investigator's offline copy of a sealed
// recording, in the clear.
func (a *app) recordingDecrypt(args []string) error {
	fs, keyFile := offlineFlags("decrypt")
	out := fs.String("o", "", "write to `OUT` (0600; default stdout, never a terminal for audio)")
	partial := fs.Bool("partial", false, "write what decrypts of a file without its final record (a recording cut by a crash and not yet repaired, or truncated)")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(a.stdout, "Usage:\n"+offlineRecordingUsage)
		return flag.ErrHelp
	}
	if err != nil {
		return usageErrorf("recording decrypt: %v", err)
	}
	if len(pos) != 1 {
		return usageErrorf("recording decrypt takes 1 argument FILE, got %d", len(pos))
	}
	kr, err := a.loadKeys(*keyFile)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	r, err := seal.Open(f, st.Size(), kr, "")
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	h := r.Header()
	if cerr := r.Complete(); cerr != nil {
		if !*partial {
			return fmt.Errorf("%s: %w (--partial writes the %d bytes that decrypt)", pos[0], cerr, r.Size())
		}
		fmt.Fprintf(a.stderr, "%s: %v; writing the %d bytes that decrypt\n", pos[0], cerr, r.Size())
	}
	var w io.Writer = a.stdout
	if *out == "" && h.Kind == seal.KindWAV && isTerminal(a.stdout) {
		return usageErrorf("recording decrypt: refusing to write audio to a terminal; use -o OUT")
	}
	var of *os.File
	if *out != "" && *out != "-" {
		if of, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer of.Close()
		w = of
	}
	if _, err := io.Copy(w, io.NewSectionReader(r, 0, r.Size())); err != nil {
		return err
	}
	if of != nil {
		if err := of.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stderr, "%s: recording %s, key %s, %d records, %d bytes decrypted\n", pos[0], h.RecordingID, h.KeyID, r.Records(), r.Size())
	return nil
}

// recordingKeygen runs "recording keygen": a new current key in the key file.
func (a *app) recordingKeygen(args []string) error {
	fs, keyFile := offlineFlags("keygen")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(a.stdout, "Usage:\n"+offlineRecordingUsage)
			return flag.ErrHelp
		}
		return usageErrorf("recording keygen: %v", err)
	}
	if *keyFile == "" || fs.NArg() != 0 {
		return usageErrorf("recording keygen takes --key-file F and no arguments")
	}
	id, err := seal.AppendKey(*keyFile)
	if errors.Is(err, os.ErrNotExist) {
		id, err = seal.GenerateKeyFile(*keyFile)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s\n", id)
	fmt.Fprintf(a.stderr, "key %s is now current in %s: restart hushd for new recordings to use it, then `hushctl recording rewrap`\n", id, *keyFile)
	return nil
}

// recordingRewrap runs "recording rewrap": every sealed file under the directories whose
// key is not the current one gets its data key wrapped by the current key.
func (a *app) recordingRewrap(args []string) error {
	fs, keyFile := offlineFlags("rewrap")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(a.stdout, "Usage:\n"+offlineRecordingUsage)
		return flag.ErrHelp
	}
	if err != nil {
		return usageErrorf("recording rewrap: %v", err)
	}
	if len(pos) == 0 {
		return usageErrorf("recording rewrap takes at least one DIR")
	}
	kr, err := a.loadKeys(*keyFile)
	if err != nil {
		return err
	}
	var rewrapped, current, skipped int
	var failed []string
	for _, root := range pos {
		err := filepath.WalkDir(root, func(path string, d iofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := filepath.Ext(path)
			if d.IsDir() || (ext != ".wav" && ext != ".json") {
				return nil
			}
			n, err := rewrapFile(path, kr)
			switch {
			case errors.Is(err, errInProgress):
				skipped++
			case err != nil:
				failed = append(failed, fmt.Sprintf("%s: %v", path, err))
			case n:
				rewrapped++
			default:
				current++
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "rewrapped %d file(s) to key %s; %d already on it; %d of recordings in progress skipped\n",
		rewrapped, kr.Current(), current, skipped)
	if len(failed) > 0 {
		return fmt.Errorf("%d file(s) not rewrapped:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// errInProgress: a recording hushd may still be writing is left alone.
var errInProgress = errors.New("recording in progress")

// rewrapFile rewraps one sealed file (false: plain, or already on the current key).
func rewrapFile(path string, kr *seal.FileKeyring) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var head [4096]byte
	n, _ := f.ReadAt(head[:], 0)
	h, _, err := seal.ParseHeader(head[:n])
	if errors.Is(err, seal.ErrNotSealed) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if h.KeyID == kr.Current() {
		return false, nil
	}
	// A recording still being written (its sidecar says so) is hushd's: leave it.
	side := strings.TrimSuffix(strings.TrimSuffix(path, ".wav"), ".json") + ".json"
	if b, err := os.ReadFile(side); err == nil {
		if plain, _, err := seal.OpenBytes(kr, b, ""); err == nil {
			var sc struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(plain, &sc) == nil && sc.Status == "in_progress" {
				return false, errInProgress
			}
		}
	}
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	tmp := path + ".rewrap.tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return false, err
	}
	// The records are copied as they are (streamed: a recording may be large).
	_, _, err = seal.Rewrap(out, f, st.Size(), kr)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return false, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return true, nil
}

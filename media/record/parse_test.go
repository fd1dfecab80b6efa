package record

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseHeader(t *testing.T) {
	var good [headerSize]byte
	putHeader(good[:], 4000)
	h, err := parseHeader(good[:])
	if err != nil || h.dataSize != 4000 || h.riffSize != 4036 {
		t.Fatalf("good header: %+v, %v", h, err)
	}
	mut := func(i int, b byte) []byte {
		c := good
		c[i] = b
		return c[:]
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       good[:43],
		"not RIFF":    mut(0, 'X'),
		"not WAVE":    mut(8, 'X'),
		"fmt size":    mut(16, 18),
		"float":       mut(20, 3),
		"mono":        mut(22, 1),
		"16 kHz":      mut(25, 0x3e),
		"block align": mut(32, 2),
		"8 bit":       mut(34, 8),
		"LIST chunk":  mut(36, 'L'),
	} {
		if _, err := parseHeader(b); !errors.Is(err, ErrBadHeader) {
			t.Errorf("%s: err %v, want ErrBadHeader", name, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	var good [headerSize]byte
	putHeader(good[:], 123456)
	f.Add(good[:])
	f.Add(good[:20])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("error %v not ErrBadHeader", err)
			}
			return
		}
		var re [headerSize]byte
		putHeader(re[:], h.dataSize)
		if string(re[:4]) != string(b[:4]) || string(re[8:40]) != string(b[8:40]) {
			t.Fatal("accepted a header that differs from ours")
		}
	})
}

func validSidecar() Sidecar {
	return Sidecar{Version: 1, RecordingID: "r1", Status: StatusComplete, SampleRate: SampleRate,
		BitsPerSample: 16, Channels: []string{"customer", "agent"}, WAV: "r1.wav",
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestParseSidecar(t *testing.T) {
	good := validSidecar()
	b, _ := json.Marshal(good)
	if s, err := ParseSidecar(b); err != nil || s.RecordingID != "r1" {
		t.Fatalf("good sidecar: %+v, %v", s, err)
	}
	for name, mod := range map[string]func(*Sidecar){
		"version":     func(s *Sidecar) { s.Version = 2 },
		"id":          func(s *Sidecar) { s.RecordingID = "../etc/passwd"; s.WAV = "../etc/passwd.wav" },
		"status":      func(s *Sidecar) { s.Status = "done" },
		"rate":        func(s *Sidecar) { s.SampleRate = 16000 },
		"channels":    func(s *Sidecar) { s.Channels = []string{"mono"} },
		"wav name":    func(s *Sidecar) { s.WAV = "other.wav" },
		"negative":    func(s *Sidecar) { s.FileSamples = -1 },
		"empty id":    func(s *Sidecar) { s.RecordingID = ""; s.WAV = ".wav" },
		"bits":        func(s *Sidecar) { s.BitsPerSample = 8 },
		"neg size":    func(s *Sidecar) { s.Size = -5 },
		"neg samples": func(s *Sidecar) { s.DurationSamples = -5 },
		"neg segment": func(s *Sidecar) { s.Segment = -1 },
		"previous id": func(s *Sidecar) { s.PreviousRecordingID = "../r0" },
	} {
		s := validSidecar()
		mod(&s)
		b, _ := json.Marshal(s)
		if _, err := ParseSidecar(b); !errors.Is(err, ErrBadSidecar) {
			t.Errorf("%s: err %v, want ErrBadSidecar", name, err)
		}
	}
	for _, raw := range []string{"", "{", "null", "[]", `{"version":"1"}`, `{"start":"yesterday"}`, "\x00"} {
		if _, err := ParseSidecar([]byte(raw)); !errors.Is(err, ErrBadSidecar) {
			t.Errorf("%q: err %v, want ErrBadSidecar", raw, err)
		}
	}
}

func FuzzParseSidecar(f *testing.F) {
	good := validSidecar()
	good.Pauses = []PauseSpan{{StartSample: 1, EndSample: 9, Behavior: PauseSkip}}
	b, _ := json.Marshal(good)
	f.Add(b)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSidecar(b)
		if err != nil {
			if !errors.Is(err, ErrBadSidecar) {
				t.Fatalf("error %v not ErrBadSidecar", err)
			}
			return
		}
		if ValidateID(s.RecordingID) != nil || s.WAV != s.RecordingID+".wav" {
			t.Fatalf("accepted unsafe names %q %q", s.RecordingID, s.WAV)
		}
	})
}

func TestReadSidecarTooBig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(p, make([]byte, maxSidecarBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSidecar(p); !errors.Is(err, ErrBadSidecar) {
		t.Errorf("err %v, want ErrBadSidecar", err)
	}
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "rec-1", "2026-03-04T10.00.00Z_abc", strings.Repeat("x", 128)} {
		if err := ValidateID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", `a\b`, "../x", "a b", "a\x00", "é", strings.Repeat("x", 129)} {
		if err := ValidateID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("%q: %v, want ErrBadID", bad, err)
		}
	}
}

func TestRedactDigits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		run  int
		want string
	}{
		{"no digits", 4, "no digits"},
		{"room 123", 4, "room 123"},
		{"card 4111 1111 1111 1111 ok", 4, "card #### #### #### #### ok"},
		{"4111111111111111", 4, "################"},
		{"agent-1234", idDigitRun, "agent-1234"},
		{"req-411111111111", idDigitRun, "req-############"},
		{"12a1234", 4, "12a####"},
	} {
		if got := redactDigits(tc.in, tc.run); got != tc.want {
			t.Errorf("redactDigits(%q, %d) = %q, want %q", tc.in, tc.run, got, tc.want)
		}
	}
}

func TestListNewestFirst(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"b", "a", "c"} {
		s := validSidecar()
		s.RecordingID, s.WAV, s.Start = id, id+".wav", base.Add(time.Duration(i)*time.Hour)
		if err := writeSidecar(OSFS{}, dir, &s, nil); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.wav"), nil, 0o644)
	list, err := List(dir)
	if !errors.Is(err, ErrBadSidecar) {
		t.Errorf("List error %v, want the junk file reported as ErrBadSidecar", err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.RecordingID)
	}
	if got := strings.Join(ids, ","); got != "c,a,b" {
		t.Errorf("order %s, want c,a,b", got)
	}
	if _, err := List(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestSidecarHasNoDigitsFields(t *testing.T) {
	// Guard: no field of the sidecar may be able to carry DTMF digits.
	b, _ := json.Marshal(validSidecar())
	for _, word := range []string{"digit", "pan", "card", "dtmf"} {
		if strings.Contains(strings.ToLower(string(b)), `"`+word) {
			t.Errorf("sidecar has a %q field", word)
		}
	}
}

func TestGetAndWAVPath(t *testing.T) {
	dir := t.TempDir()
	s := validSidecar()
	if err := writeSidecar(OSFS{}, dir, &s, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := Get(dir, "r1"); err != nil || got.RecordingID != "r1" {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if _, err := Get(dir, "nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Get missing: %v", err)
	}
	for _, bad := range []string{"../r1", "r1/../../x", ""} {
		if _, err := Get(dir, bad); !errors.Is(err, ErrBadID) {
			t.Errorf("Get(%q): %v, want ErrBadID", bad, err)
		}
		if _, err := WAVPath(dir, bad); !errors.Is(err, ErrBadID) {
			t.Errorf("WAVPath(%q): %v, want ErrBadID", bad, err)
		}
	}
	if p, err := WAVPath(dir, "r1"); err != nil || p != filepath.Join(dir, "r1.wav") {
		t.Errorf("WAVPath = %q, %v", p, err)
	}
}

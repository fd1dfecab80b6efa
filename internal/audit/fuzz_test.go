package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/pan"
)

func TestParseRecordBad(t *testing.T) {
	good, _, _ := encode(&Record{Seq: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Actor: "a", Action: "b", Outcome: "OK", Prev: Genesis})
	good = bytes.TrimSuffix(good, []byte("\n"))
	if _, err := ParseRecord(good); err != nil {
		t.Fatalf("good line refused: %v", err)
	}
	s := string(good)
	hashAt := strings.Index(s, `,"hash":"`)
	for name, line := range map[string]string{
		"empty":            "",
		"not JSON":         strings.Repeat("x", 200),
		"no hash member":   s[:hashAt] + "}",
		"hash not last":    strings.Replace(s, `{"seq":1,`, `{"hash":"x","seq":1,`, 1),
		"spaces":           strings.Replace(s, `"seq":1`, `"seq": 1`, 1),
		"escaped letter":   strings.Replace(s, `"actor":"a"`, `"actor":"\u0061"`, 1),
		"duplicate member": strings.Replace(s, `"actor":"a"`, `"actor":"z","actor":"a"`, 1),
		"unknown member":   strings.Replace(s, `"actor":"a"`, `"actor":"a","pan":"x"`, 1),
		"seq zero":         strings.Replace(s, `"seq":1`, `"seq":0`, 1),
		"seq negative":     strings.Replace(s, `"seq":1`, `"seq":-1`, 1),
		"local time":       strings.Replace(s, `05.000000006Z`, `05.000000006+01:00`, 1),
		"upper-case hash":  s[:hashAt+9] + strings.ToUpper(s[hashAt+9:]),
		"trailing garbage": s + " ",
		"too long":         s[:hashAt] + strings.Repeat(" ", MaxLine) + s[hashAt:],
		"two objects":      `{}` + s[len(s)-suffixLen:],
		"prev not hex":     strings.Replace(s, Genesis, strings.Repeat("g", 64), 1),
	} {
		if _, err := ParseRecord([]byte(line)); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: err = %v, want ErrRecord", name, err)
		}
	}
}

func seedLog(f *testing.F) []byte {
	dir := f.TempDir()
	l, err := Open(filepath.Join(dir, "a.jsonl"), WithClock(tick()))
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.Append(rec(i)); err != nil {
			f.Fatal(err)
		}
	}
	l.Close()
	data, err := os.ReadFile(filepath.Join(dir, "a.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzVerify: any file verifies or reports a line, never panics; a file
// that verifies re-verifies record by record with ParseRecord.
func FuzzVerify(f *testing.F) {
	data := seedLog(f)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"seq":1}` + "\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := Verify(bytes.NewReader(in))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line != n+1 || !(errors.Is(err, ErrRecord) || errors.Is(err, ErrChain) || errors.Is(err, ErrDigits)) {
				t.Fatalf("Verify = %d, %v", n, err)
			}
			return
		}
		lines := bytes.Split(in, []byte("\n"))
		if len(lines)-1 != n {
			t.Fatalf("Verify counted %d records in %d lines", n, len(lines)-1)
		}
		for _, line := range lines[:n] {
			if _, err := ParseRecord(line); err != nil {
				t.Fatalf("verified line fails ParseRecord: %v", err)
			}
		}
	})
}

// FuzzParseRecord: a parsed record re-encodes to the same line.
func FuzzParseRecord(f *testing.F) {
	data := seedLog(f)
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"seq":1,"hash":"00"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRecord(line)
		if err != nil {
			if !errors.Is(err, ErrRecord) && !errors.Is(err, ErrDigits) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		again, hash, err := encode(&r)
		if err != nil || hash != r.Hash || !bytes.Equal(bytes.TrimSuffix(again, []byte("\n")), line) {
			t.Fatalf("parsed record does not re-encode to its line: %v", err)
		}
	})
}

func BenchmarkParseRecord(b *testing.B) {
	line, _, _ := encode(&Record{Seq: 1, Time: time.Now().UTC().Round(0), Actor: "alice", Role: "agent",
		Action: ActionPause, SessionID: "s-1", RequestID: "r-1", Outcome: "OK", Prev: Genesis})
	line = bytes.TrimSuffix(line, []byte("\n"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRecord(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend includes the fsync: it is what a control action costs.
func BenchmarkAppend(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "a.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := rec(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzRedact: what the Recorder writes (pan.Scrub) never holds a digit run that Append
// refuses, so scrubbing never costs a record.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"pan=4111111111111111", "32db6b8fb569247505763267715611da", "411111111117-411111111117", "", "4111 1111 1111 1111"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if out := pan.Scrub(s); hasCardRun(out) {
			t.Fatalf("pan.Scrub(%q) = %q still holds a card-like run", s, out)
		}
	})
}

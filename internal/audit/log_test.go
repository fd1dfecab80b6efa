package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/media/pan"
)

func tick() func() time.Time {
	t := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(1500 * time.Microsecond)
		return t
	}
}

func openLog(t *testing.T, path string, opts ...Option) *Log {
	t.Helper()
	l, err := Open(path, append([]Option{WithClock(tick())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func rec(i int) Record {
	return Record{Actor: "alice", Role: "agent", Action: ActionPause, SessionID: fmt.Sprint("s-", i),
		CallID: "c-1", RequestID: fmt.Sprint("r-", i), Outcome: "OK", Detail: "mode=silence <&> \"quoted\" é"}
}

// writeLog makes a file of n good records and returns its lines.
func writeLog(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "hush-audit.jsonl")
	l := openLog(t, path)
	for i := range n {
		if _, err := l.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, bytes.SplitAfter(data, []byte("\n"))[:n]
}

func verifyBytes(lines [][]byte) (int, error) {
	return Verify(bytes.NewReader(bytes.Join(lines, nil)))
}

func wantBreak(t *testing.T, n int, err error, line int, sentinel error) {
	t.Helper()
	var le *LineError
	if !errors.As(err, &le) || le.Line != line || !errors.Is(err, sentinel) {
		t.Fatalf("Verify = %d, %v; want a break at line %d wrapping %v", n, err, line, sentinel)
	}
	if n != line-1 {
		t.Errorf("good records = %d, want %d", n, line-1)
	}
}

func TestAppendConcurrentAndVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l := openLog(t, path)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if _, err := l.Append(rec(g*100 + i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seq, head := l.Head()
	l.Close()
	f, _ := os.Open(path)
	defer f.Close()
	n, err := Verify(f)
	if err != nil || n != 200 || seq != 200 {
		t.Fatalf("Verify = %d, %v; head seq %d", n, err, seq)
	}
	data, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	last, err := ParseRecord(lines[len(lines)-1])
	if err != nil || last.Hash != head || last.Seq != 200 {
		t.Fatalf("last record %+v, %v; head %s", last, err, head)
	}
	first, _ := ParseRecord(lines[0])
	if first.Seq != 1 || first.Prev != Genesis || first.Actor != "alice" || first.Detail != rec(0).Detail {
		t.Errorf("first record %+v", first)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path, _ := writeLog(t, 3)
	l := openLog(t, path)
	if seq, _ := l.Head(); seq != 3 {
		t.Fatalf("reopened at seq %d", seq)
	}
	r, err := l.Append(rec(9))
	if err != nil || r.Seq != 4 {
		t.Fatalf("append after reopen: %+v, %v", r, err)
	}
	l.Close()
	data, _ := os.ReadFile(path)
	if n, err := Verify(bytes.NewReader(data)); n != 4 || err != nil {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	if _, err := l.Append(rec(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("append after Close: %v", err)
	}
}

// Changing any single byte of a record is detected at that record's line,
// including its hash, its prev and its newline.
func TestVerifyDetectsEveryByteEdit(t *testing.T) {
	_, lines := writeLog(t, 9)
	const target = 5 // 1-based
	orig := lines[target-1]
	for i := range orig {
		edited := make([][]byte, len(lines))
		copy(edited, lines)
		b := bytes.Clone(orig)
		b[i] ^= 0x01 // one bit, the smallest edit
		edited[target-1] = b
		n, err := verifyBytes(edited)
		var le *LineError
		if !errors.As(err, &le) || le.Line != target {
			t.Fatalf("byte %d (%q) edited: Verify = %d, %v; want line %d", i, orig[i], n, err, target)
		}
	}
	// The issue's own check: one byte in the middle of the file.
	data := bytes.Join(lines, nil)
	mid := len(data) / 2
	line := bytes.Count(data[:mid], []byte("\n")) + 1
	data[mid] = 'X' + (data[mid] & 1)
	n, err := Verify(bytes.NewReader(data))
	var le *LineError
	if !errors.As(err, &le) || le.Line != line {
		t.Fatalf("middle byte edited: %d, %v; want line %d", n, err, line)
	}
}

func TestVerifyDetectsLineChanges(t *testing.T) {
	_, lines := writeLog(t, 6)
	del := append(append([][]byte{}, lines[:3]...), lines[4:]...)
	n, err := verifyBytes(del)
	wantBreak(t, n, err, 4, ErrChain)

	swapped := append([][]byte{}, lines...)
	swapped[2], swapped[3] = swapped[3], swapped[2]
	n, err = verifyBytes(swapped)
	wantBreak(t, n, err, 3, ErrChain)

	dup := append(append(append([][]byte{}, lines[:3]...), lines[2]), lines[3:]...)
	n, err = verifyBytes(dup)
	wantBreak(t, n, err, 4, ErrChain)

	first := append([][]byte{}, lines[1:]...) // head deleted
	n, err = verifyBytes(first)
	wantBreak(t, n, err, 1, ErrChain)

	// A record from another, valid log spliced in.
	otherPath := filepath.Join(t.TempDir(), "other.jsonl")
	ol := openLog(t, otherPath)
	for i := range 6 {
		r := rec(i)
		r.Actor = "bob"
		if _, err := ol.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	ol.Close()
	odata, _ := os.ReadFile(otherPath)
	other := bytes.SplitAfter(odata, []byte("\n"))
	spliced := append([][]byte{}, lines...)
	spliced[4] = other[4]
	n, err = verifyBytes(spliced)
	wantBreak(t, n, err, 5, ErrChain)

	// Dropping the tail is invisible to Verify alone; Head, kept elsewhere, shows it.
	n, err = verifyBytes(lines[:5])
	if n != 5 || err != nil {
		t.Fatalf("truncated: %d, %v", n, err)
	}
	if n, err := verifyBytes(nil); n != 0 || err != nil {
		t.Fatalf("empty file: %d, %v", n, err)
	}
}

func TestOpenRefusesBrokenChain(t *testing.T) {
	path, lines := writeLog(t, 5)
	lines[1] = bytes.Replace(lines[1], []byte("alice"), []byte("mallory"), 1)
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), "refusing to append") {
		t.Fatalf("Open of broken chain: %v", err)
	}
	l := openLog(t, path, AllowBroken())
	if _, err := l.Append(rec(7)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, _ := os.ReadFile(path)
	n, err := Verify(bytes.NewReader(data))
	wantBreak(t, n, err, 2, ErrRecord) // the break stays visible
	out := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	note, err := ParseRecord(out[5])
	if err != nil || note.Action != "audit.chain_break_accepted" || note.Seq != 6 || !strings.Contains(note.Detail, "line 2") {
		t.Fatalf("note %+v, %v", note, err)
	}
	last, err := ParseRecord(out[6])
	if err != nil || last.Prev != note.Hash || last.Seq != 7 {
		t.Fatalf("record after note %+v, %v", last, err)
	}
}

// A crash mid-write leaves a partial last line: Open drops it and says so.
func TestOpenRepairsTornTail(t *testing.T) {
	path, lines := writeLog(t, 3)
	torn := append(bytes.Join(lines, nil), lines[2][:40]...)
	if err := os.WriteFile(path, torn, 0o640); err != nil {
		t.Fatal(err)
	}
	n, err := Verify(bytes.NewReader(torn))
	wantBreak(t, n, err, 4, ErrRecord)
	l := openLog(t, path)
	if _, err := l.Append(rec(4)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, _ := os.ReadFile(path)
	if n, err := Verify(bytes.NewReader(data)); n != 5 || err != nil {
		t.Fatalf("after repair: %d, %v", n, err)
	}
	out := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if r, _ := ParseRecord(out[3]); r.Action != "audit.repair" || !strings.Contains(r.Detail, "40 bytes") {
		t.Errorf("repair record %+v", r)
	}
}

func TestOpenLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l := openLog(t, path)
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	l.Close()
	l2 := openLog(t, path)
	l2.Close()
}

func TestAppendRefusesDigitRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l := openLog(t, path)
	defer l.Close()
	pan := "4111111111111111"
	set := []func(*Record, string){
		func(r *Record, v string) { r.Detail = "card " + v },
		func(r *Record, v string) { r.Actor = v },
		func(r *Record, v string) { r.Role = v },
		func(r *Record, v string) { r.Action = "x." + v },
		func(r *Record, v string) { r.SessionID = v },
		func(r *Record, v string) { r.CallID = v },
		func(r *Record, v string) { r.RequestID = "req-" + v + "-z" },
		func(r *Record, v string) { r.Outcome = v },
	}
	for i, f := range set {
		// Luhn-valid 16, 15 and 12 digits, and a run too long to be anything but suspect.
		for _, v := range []string{pan, "378282246310005", "411111111117", "12345678901234567890"} {
			r := rec(i)
			f(&r, v)
			if _, err := l.Append(r); !errors.Is(err, ErrDigits) {
				t.Errorf("field %d with %q: %v", i, v, err)
			}
		}
		// Allowed: 11 digits (a phone number), a Luhn-invalid 16, digits inside a hex id.
		for _, v := range []string{pan[:11], "4111111111111112", "ab4111111111111111cd"} {
			r := rec(i)
			f(&r, v)
			if _, err := l.Append(r); err != nil {
				t.Errorf("field %d with %q: %v", i, v, err)
			}
		}
	}
	l.Close()
	data, _ := os.ReadFile(path)
	for _, v := range []string{"-" + pan, "378282246310005", "411111111117", "12345678901234567890"} {
		if bytes.Contains(data, []byte(v)) {
			t.Fatalf("%s reached the file", v)
		}
	}
	for _, bad := range []Record{{Action: "a", Outcome: "OK"}, {Actor: "a", Outcome: "OK"}, {Actor: "a", Action: "b"},
		{Actor: "a\xff", Action: "b", Outcome: "OK"}} {
		if _, err := l.Append(bad); !errors.Is(err, ErrRecord) {
			t.Errorf("Append(%+v) = %v, want ErrRecord", bad, err)
		}
	}
}

func TestRecorder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l := openLog(t, path)
	var errs []error
	r := NewRecorder(l, func(err error) { errs = append(errs, err) })
	ctx := auth.NewContext(context.Background(), auth.Identity{Subject: "alice", Role: auth.RoleAgent, AgentID: "a-17", Method: auth.MethodToken})
	if err := r.Record(ctx, ActionCaptureStart, "32db6b8fb569247505763267715611da", "550e8400-e29b-41d4-a716-446655440000", "OK", "mode=tone"); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordCall(ctx, ActionDigitsDeliver, "s-1", "call-9", "r-2", "OK", "delivered 16 digits; junk 4111111111111111 \xff"+strings.Repeat("é", 800)); err != nil {
		t.Fatal(err)
	}
	pctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4444}})
	r.Denied(pctx, "/hush.v1.SessionService/CreateSession", auth.Identity{}, codes.Unauthenticated, "invalid token")
	if err := r.Record(ctx, "", "s", "", "OK", ""); !errors.Is(err, ErrRecord) || len(errs) != 1 {
		t.Errorf("bad record: %v, OnError got %v", err, errs)
	}
	l.Close()
	data, _ := os.ReadFile(path)
	if n, err := Verify(bytes.NewReader(data)); n != 3 || err != nil {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	out := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var got []Record
	for _, line := range out {
		rr, err := ParseRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rr)
	}
	// Identifiers pass untouched: a hex session id with a long digit stretch, a UUID.
	if got[0].Actor != "alice" || got[0].Role != "agent" || got[0].RequestID != "550e8400-e29b-41d4-a716-446655440000" ||
		got[0].SessionID != "32db6b8fb569247505763267715611da" {
		t.Errorf("record 1 %+v", got[0])
	}
	if got[1].CallID != "call-9" || !strings.Contains(got[1].Detail, "junk [digits removed] \uFFFD") || len(got[1].Detail) > maxDetail+3 {
		t.Errorf("record 2 detail %q (%d bytes)", got[1].Detail[:60], len(got[1].Detail))
	}
	if got[2].Actor != "unauthenticated" || got[2].Action != ActionAuthDenied || got[2].Outcome != "Unauthenticated" ||
		!strings.Contains(got[2].Detail, "CreateSession: invalid token (peer 192.0.2.1:4444)") {
		t.Errorf("denial %+v", got[2])
	}
	if err := Nop.Record(ctx, ActionPause, "s", "", "OK", ""); err != nil {
		t.Errorf("Nop: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"abc 12345678901":                   "abc 12345678901",
		"411111111117":                      "[digits removed]",
		"411111111118":                      "411111111118",
		"x4111111111111111y 12":             "x4111111111111111y 12",
		"pan=4111111111111111; 12":          "pan=[digits removed]; 12",
		"pan=4111 1111 1111 1111; 12":       "pan=[digits removed]; 12",
		"12345678901237-9 4111111111111111": "[digits removed]-9 [digits removed]",
		"123456789012345678901":             "[digits removed]",
	} {
		if got := pan.Scrub(in); got != want {
			t.Errorf("pan.Scrub(%q) = %q, want %q", in, got, want)
		}
		if hasCardRun(pan.Scrub(in)) {
			t.Errorf("pan.Scrub(%q) still holds a card-like run", in)
		}
	}
}

func TestLuhn(t *testing.T) {
	for d, want := range map[string]bool{"4111111111111111": true, "378282246310005": true,
		"5555555555554444": true, "4111111111111112": false, "446655440000": false, "0": true} {
		if luhn(d) != want {
			t.Errorf("luhn(%s) != %v", d, want)
		}
	}
}

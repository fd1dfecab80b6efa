package seal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// memFile is a Backing in memory.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.b).ReadAt(p, off)
}
func (m *memFile) Sync() error  { return nil }
func (m *memFile) Close() error { return nil }

func testKeyring(t testing.TB, ids ...string) *FileKeyring {
	t.Helper()
	var b strings.Builder
	for i, id := range ids {
		fmt.Fprintf(&b, "%s %s\n", id, strings.Repeat(string(rune('A'+i)), 43))
	}
	kr, err := ParseKeyFile([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// sealed writes plain as a sealed WAV-kind file in writes of step bytes,
// rewriting bytes 0..8 after each (as a header checkpoint does).
func sealed(t testing.TB, kr Keyring, plain []byte, step int, finish bool) *memFile {
	t.Helper()
	key, err := NewKey(kr, "rec-1")
	if err != nil {
		t.Fatal(err)
	}
	f := &memFile{}
	w, err := NewWriter(f, key, KindWAV)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(plain); off += step {
		end := min(off+step, len(plain))
		if _, err := w.WriteAt(plain[off:end], int64(off)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteAt(plain[:8], 0); err != nil {
			t.Fatal(err)
		}
	}
	if finish {
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	kr := testKeyring(t, "k1")
	plain := pattern(100_000)
	f := sealed(t, kr, plain, 7000, true)
	if bytes.Contains(f.b, plain[1000:1064]) {
		t.Fatal("plaintext found in the sealed file")
	}
	r, err := Open(bytes.NewReader(f.b), int64(len(f.b)), kr, "rec-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Complete(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, r.Size())
	if _, err := r.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("plaintext differs")
	}
	// The writer reads its own file back too.
	key, _ := NewKey(kr, "rec-1")
	w, _ := NewWriter(&memFile{}, key, KindWAV)
	w.WriteAt(plain[:300], 0)
	w.WriteAt([]byte{9, 9}, 100)
	b := make([]byte, 4)
	if _, err := w.ReadAt(b, 99); err != nil || !bytes.Equal(b, []byte{plain[99], 9, 9, plain[102]}) {
		t.Fatalf("writer ReadAt %v %v", b, err)
	}
}

func TestTamperReportsWhere(t *testing.T) {
	kr := testKeyring(t, "k1")
	f := sealed(t, kr, pattern(50_000), 10_000, true)
	r, err := Open(bytes.NewReader(f.b), int64(len(f.b)), kr, "")
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte in the middle of the third record's ciphertext.
	e := r.exts[2]
	f.b[e.at+recHeader+e.n/2] ^= 0x40
	_, err = Open(bytes.NewReader(f.b), int64(len(f.b)), kr, "")
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), fmt.Sprintf("record 2 at byte %d", e.at)) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestReorderAndSpliceDetected(t *testing.T) {
	kr := testKeyring(t, "k1")
	f := sealed(t, kr, pattern(30_000), 10_000, true)
	r, _ := Open(bytes.NewReader(f.b), int64(len(f.b)), kr, "")
	a, b := r.exts[0], r.exts[2] // two records of 10,000 bytes
	ra := append([]byte(nil), f.b[a.at:a.at+recHeader+a.n+tagSize]...)
	rb := append([]byte(nil), f.b[b.at:b.at+recHeader+b.n+tagSize]...)
	if len(ra) != len(rb) {
		t.Fatalf("records differ in size %d %d", len(ra), len(rb))
	}
	swapped := bytes.Clone(f.b)
	copy(swapped[a.at:], rb)
	copy(swapped[b.at:], ra)
	if _, err := Open(bytes.NewReader(swapped), int64(len(swapped)), kr, ""); !errors.Is(err, ErrTampered) {
		t.Fatalf("swapped records: %v", err)
	}
	// A record from another file of the same recording and key does not fit either.
	g := sealed(t, kr, pattern(30_000), 10_000, true)
	rg, _ := Open(bytes.NewReader(g.b), int64(len(g.b)), kr, "")
	spliced := bytes.Clone(f.b)
	ga := rg.exts[0]
	copy(spliced[a.at:], g.b[ga.at:ga.at+recHeader+ga.n+tagSize])
	if _, err := Open(bytes.NewReader(spliced), int64(len(spliced)), kr, ""); !errors.Is(err, ErrTampered) {
		t.Fatalf("spliced record: %v", err)
	}
}

func TestTruncationDetected(t *testing.T) {
	kr := testKeyring(t, "k1")
	f := sealed(t, kr, pattern(30_000), 10_000, true)
	r, _ := Open(bytes.NewReader(f.b), int64(len(f.b)), kr, "")
	for _, cut := range []int64{r.exts[len(r.exts)-1].at, r.exts[3].at, r.exts[3].at + 20} {
		b := f.b[:cut]
		r, err := Open(bytes.NewReader(b), int64(len(b)), kr, "")
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if err := r.Complete(); !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: Complete %v", cut, err)
		}
	}
	// Bytes after the final record.
	b := append(bytes.Clone(f.b), 1, 2, 3)
	if _, err := Open(bytes.NewReader(b), int64(len(b)), kr, ""); !errors.Is(err, ErrTampered) {
		t.Fatalf("trailing bytes: %v", err)
	}
}

// A crash cuts the record being appended: the reader keeps every whole one.
func TestCutRecordKeepsEarlier(t *testing.T) {
	kr := testKeyring(t, "k1")
	plain := pattern(40_000)
	f := sealed(t, kr, plain, 10_000, false)
	full, _ := Open(bytes.NewReader(f.b), int64(len(f.b)), kr, "")
	last := full.exts[len(full.exts)-2] // the last data record (then a header rewrite)
	b := f.b[:last.at+recHeader+5]
	r, err := Open(bytes.NewReader(b), int64(len(b)), kr, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Final() || r.Size() != 30_000 || !strings.Contains(r.Tail(), "cut short") {
		t.Fatalf("size %d final %v tail %q", r.Size(), r.Final(), r.Tail())
	}
	got := make([]byte, r.Size())
	r.ReadAt(got, 0)
	if !bytes.Equal(got, plain[:30_000]) {
		t.Fatal("kept plaintext differs")
	}
}

func TestKeysAndRewrap(t *testing.T) {
	old := testKeyring(t, "k1")
	both := testKeyring(t, "k1", "k2")
	f := sealed(t, old, pattern(20_000), 5000, true)
	// Rotation: a keyring with the new key current still opens the old file.
	if _, err := Open(bytes.NewReader(f.b), int64(len(f.b)), both, "rec-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bytes.NewReader(f.b), int64(len(f.b)), old, "rec-2"); !errors.Is(err, ErrWrongRecording) {
		t.Fatalf("wrong recording: %v", err)
	}
	var out bytes.Buffer
	from, to, err := Rewrap(&out, bytes.NewReader(f.b), int64(len(f.b)), both)
	if err != nil || from != "k1" || to != "k2" {
		t.Fatalf("rewrap %s->%s %v", from, to, err)
	}
	if _, err := Open(bytes.NewReader(out.Bytes()), int64(out.Len()), old, ""); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old keyring opens a rewrapped file: %v", err)
	}
	r, err := Open(bytes.NewReader(out.Bytes()), int64(out.Len()), testKeyring(t, "k9", "k2"), "")
	if err != nil || r.Complete() != nil {
		t.Fatalf("rewrapped: %v", err)
	}
	// Another key under the same id does not unwrap.
	other, _ := ParseKeyFile([]byte("k1 " + strings.Repeat("Z", 43) + "\n"))
	if _, err := Open(bytes.NewReader(f.b), int64(len(f.b)), other, ""); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("wrong key material: %v", err)
	}
	// A header copied onto another recording's file does not unwrap.
	h, n, _ := ParseHeader(f.b)
	h.RecordingID = "rec-2"
	moved := append(h.marshal(), f.b[n:]...)
	if _, err := Open(bytes.NewReader(moved), int64(len(moved)), old, ""); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("moved header: %v", err)
	}
}

func TestSealBytes(t *testing.T) {
	kr := testKeyring(t, "k1")
	key, _ := NewKey(kr, "rec-1")
	b, err := key.SealBytes(KindSidecar, []byte(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	got, k2, err := OpenBytes(kr, b, "rec-1")
	if err != nil || string(got) != `{"x":1}` || k2.KeyID() != "k1" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestKeyFile(t *testing.T) {
	bad := map[string]string{
		"empty":     "",
		"comments":  "# nothing\n",
		"one field": "k1\n",
		"bad id":    "k/1 " + strings.Repeat("A", 43) + "\n",
		"short key": "k1 AAAA\n",
		"padded":    "k1 " + strings.Repeat("A", 43) + "=\n",
		"dup":       "k1 " + strings.Repeat("A", 43) + "\nk1 " + strings.Repeat("B", 43) + "\n",
		"three":     "k1 " + strings.Repeat("A", 43) + " x\n",
	}
	for name, in := range bad {
		if _, err := ParseKeyFile([]byte(in)); !errors.Is(err, ErrBadKeyFile) {
			t.Errorf("%s: %v", name, err)
		} else if strings.Contains(err.Error(), strings.Repeat("A", 43)) {
			t.Errorf("%s: error shows key material: %v", name, err)
		}
	}
	path := filepath.Join(t.TempDir(), "keys", "kek")
	id1, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", st.Mode(), err)
	}
	if _, err := GenerateKeyFile(path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second generate: %v", err)
	}
	id2, err := AppendKey(path)
	if err != nil || id2 == id1 {
		t.Fatalf("append: %s %v", id2, err)
	}
	kr, err := LoadKeyFile(path)
	if err != nil || kr.Current() != id2 || len(kr.IDs()) != 2 {
		t.Fatalf("load: %v %v", kr, err)
	}
}

func TestParseHeaderBadInputs(t *testing.T) {
	kr := testKeyring(t, "k1")
	good := sealed(t, kr, pattern(10), 10, true).b
	_, n, _ := ParseHeader(good)
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     []byte("HUSHSEAX" + string(good[8:])),
		"version":   append([]byte(Magic), 9),
		"kind":      append([]byte(Magic), 1, 7),
		"cut":       good[:n-1],
		"zero id":   append(append([]byte(Magic), 1, 1), make([]byte, fileIDSize+2)...),
		"huge len":  append(append(append([]byte(Magic), 1, 1), make([]byte, fileIDSize)...), 0xff, 0xff),
		"only head": good[:len(Magic)+2],
	}
	for name, b := range cases {
		if _, _, err := ParseHeader(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func FuzzOpen(f *testing.F) {
	kr := testKeyring(f, "k1")
	f.Add(sealed(f, kr, pattern(3000), 1000, true).b)
	f.Add(sealed(f, kr, pattern(10), 10, false).b)
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Open(bytes.NewReader(b), int64(len(b)), kr, "")
		if err != nil {
			return
		}
		_ = r.Complete()
		if r.Size() < 1<<22 {
			p := make([]byte, r.Size())
			_, _ = r.ReadAt(p, 0)
		}
	})
}

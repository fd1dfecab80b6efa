package index

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestBadPageTokens(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tok := range []string{
		"not base64 !",
		b64([]byte("short")), // no id after the time
		b64([]byte("\x00\x00\x00\x00\x00\x00\x00\x01")), // time, empty id
		b64(append(make([]byte, 8), "../x"...)),         // an id that is not one
		b64(append(make([]byte, 8), ".hidden"...)),
		strings.Repeat("A", 300), // too long
		"====",
	} {
		if _, err := decodeToken(tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("decodeToken(%q) = %v, want ErrBadToken", tok, err)
		}
	}
	if b, err := decodeToken(encodeToken(sortKey(12345, "rec-1"))); err != nil || keyStart(b) != 12345 || keyID(b) != "rec-1" {
		t.Errorf("round trip: %v %v", b, err)
	}
}

// FuzzPageToken: any token either is refused with ErrBadToken or pages from somewhere;
// nothing panics.
func FuzzPageToken(f *testing.F) {
	f.Add(encodeToken(sortKey(1, "rec-1")))
	f.Add("")
	f.Add("AAAAAAAAAAA")
	x, _, err := Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { x.Close() })
	for i := range 20 {
		sc := sidecar(i)
		if err := x.Put("", &sc); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, tok string) {
		page, _, err := x.List(context.Background(), Query{After: tok, Limit: 5})
		if err != nil && !errors.Is(err, ErrBadToken) {
			t.Fatalf("List(after %q): %v", tok, err)
		}
		if len(page) > 5 {
			t.Fatalf("page of %d", len(page))
		}
	})
}

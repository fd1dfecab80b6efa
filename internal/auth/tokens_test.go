package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	hashA = HashToken("token-a-0123456789abcdef")
	hashB = HashToken("token-b-0123456789abcdef")
)

func TestParseTokens(t *testing.T) {
	in := "# hush tokens\n\n" +
		`{"sha256":"` + strings.ToUpper(hashA) + `","subject":"sbc-1","role":"platform"}` + "\n" +
		`  {"sha256":"` + hashB + `","subject":"alice","role":"agent","agent_id":"a-17"}  ` + "\n"
	got, err := ParseTokens(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []TokenEntry{
		{SHA256: hashA, Subject: "sbc-1", Role: RolePlatform},
		{SHA256: hashB, Subject: "alice", Role: RoleAgent, AgentID: "a-17"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseTokensBad(t *testing.T) {
	line := func(fields string) string { return "{" + fields + "}\n" }
	h := `"sha256":"` + hashA + `"`
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", "sha256: x\n", "line 1: not a JSON object"},
		{"array", "[1]\n", "line 1: not a JSON object"},
		{"two values", line(h+`,"subject":"s","role":"qa"`) + "{}", ""},
		{"trailing value", `{"sha256":"` + hashA + `","subject":"s","role":"qa"} {}` + "\n", "more than one JSON value"},
		{"unknown field", line(h + `,"subject":"s","role":"qa","token":"secret"`), "not a JSON object"},
		{"raw token not hash", line(`"sha256":"secret-token","subject":"s","role":"qa"`), "64 hex digits"},
		{"short hash", line(`"sha256":"abcd","subject":"s","role":"qa"`), "64 hex digits"},
		{"no subject", line(h + `,"role":"qa"`), "subject is required"},
		{"control char subject", line(h + `,"subject":"a\u0007b","role":"qa"`), "non-printable"},
		{"long subject", line(h + `,"subject":"` + strings.Repeat("x", 300) + `","role":"qa"`), "longer than"},
		{"unknown role", line(h + `,"subject":"s","role":"root"`), "role must be one of"},
		{"no role", line(h + `,"subject":"s"`), "role must be one of"},
		{"agent without id", line(h + `,"subject":"s","role":"agent"`), "agent_id is required"},
		{"agent id on qa", line(h + `,"subject":"s","role":"qa","agent_id":"a"`), "only for role agent"},
		{"duplicate hash", line(h+`,"subject":"s","role":"qa"`) + line(h+`,"subject":"t","role":"admin"`), "line 2: same sha256 as line 1"},
		{"long line", `{"sha256":"` + strings.Repeat("a", 5000) + "\"}\n", "token too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokens(strings.NewReader(tc.in))
			if !errors.Is(err, ErrTokenFile) {
				t.Fatalf("err = %v, want ErrTokenFile", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the line: %q", err)
			}
		})
	}
}

func TestTokenStoreReload(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens.jsonl")
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"sha256":"` + hashA + `","subject":"sbc-1","role":"platform"}` + "\n")
	s, err := LoadTokens(p)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := s.Lookup("token-a-0123456789abcdef"); !ok || id.Subject != "sbc-1" || id.Role != RolePlatform || id.Method != MethodToken {
		t.Fatalf("lookup A = %+v, %v", id, ok)
	}
	for _, bad := range []string{"", "token-b-0123456789abcdef", hashA} {
		if _, ok := s.Lookup(bad); ok {
			t.Errorf("lookup %q succeeded", bad)
		}
	}
	// Revoke A, add B.
	write(`{"sha256":"` + hashB + `","subject":"alice","role":"agent","agent_id":"a-17"}` + "\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup("token-a-0123456789abcdef"); ok {
		t.Error("revoked token still accepted after reload")
	}
	if id, ok := s.Lookup("token-b-0123456789abcdef"); !ok || id.AgentID != "a-17" {
		t.Errorf("lookup B = %+v, %v", id, ok)
	}
	// A broken file keeps the previous table.
	write("garbage\n")
	if err := s.Reload(); !errors.Is(err, ErrTokenFile) {
		t.Fatalf("reload of garbage: %v", err)
	}
	if _, ok := s.Lookup("token-b-0123456789abcdef"); !ok || s.Len() != 1 {
		t.Error("failed reload dropped the old table")
	}
	if _, err := LoadTokens(filepath.Join(dir, "missing")); !errors.Is(err, ErrTokenFile) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte(`{"sha256":"` + hashA + `","subject":"sbc-1","role":"platform"}` + "\n"))
	f.Add([]byte(`{"sha256":"` + hashB + `","subject":"alice","role":"agent","agent_id":"a-17"}`))
	f.Add([]byte("# comment\n\n{}\n"))
	f.Add([]byte(`{"sha256":1}`))
	f.Add([]byte("\xff\xfe{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseTokens(strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, ErrTokenFile) {
				t.Fatalf("error %v does not wrap ErrTokenFile", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if len(e.SHA256) != 64 || !e.Role.Valid() || e.Subject == "" || seen[e.SHA256] {
				t.Fatalf("accepted bad entry %+v", e)
			}
			if (e.Role == RoleAgent) != (e.AgentID != "") {
				t.Fatalf("agent binding wrong: %+v", e)
			}
			seen[e.SHA256] = true
		}
	})
}

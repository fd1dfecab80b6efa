package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"unicode"
)

// Token file format: JSON lines, one token per line:
//
//	{"sha256":"<64 hex digits>","subject":"sbc-1","role":"platform"}
//	{"sha256":"<64 hex digits>","subject":"alice","role":"agent","agent_id":"a-17"}
//
// Blank lines and lines starting with # are ignored. Unknown fields,
// unknown roles, an agent without agent_id, an agent_id on another role and
// a hash listed twice are errors: a typo must not grant or drop access
// silently. The file holds hashes only (`hushctl token hash` prints a line).

const (
	maxTokenFileSize = 16 << 20 // far above any real deployment
	maxTokenLine     = 4096
	maxField         = 256
)

// TokenEntry is one line of the token file.
type TokenEntry struct {
	SHA256  string `json:"sha256"`
	Subject string `json:"subject"`
	Role    Role   `json:"role"`
	AgentID string `json:"agent_id,omitempty"`
}

// HashToken returns the hex SHA-256 of a token, as the token file holds it.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ParseTokens reads a token file. Errors wrap ErrTokenFile and name the
// line; they never quote a line (it might hold a pasted secret).
func ParseTokens(r io.Reader) ([]TokenEntry, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxTokenFileSize+1))
	sc.Buffer(make([]byte, 0, 512), maxTokenLine)
	var out []TokenEntry
	seen := map[string]int{}
	total := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		total += len(line) + 1
		if total > maxTokenFileSize {
			return nil, fmt.Errorf("%w: larger than %d bytes", ErrTokenFile, maxTokenFileSize)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		e, err := parseTokenLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrTokenFile, n, err)
		}
		if prev, dup := seen[e.SHA256]; dup {
			return nil, fmt.Errorf("%w: line %d: same sha256 as line %d", ErrTokenFile, n, prev)
		}
		seen[e.SHA256] = n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenFile, err)
	}
	return out, nil
}

func parseTokenLine(line []byte) (TokenEntry, error) {
	var e TokenEntry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("not a JSON object of sha256, subject, role, agent_id")
	}
	if dec.More() {
		return e, fmt.Errorf("more than one JSON value")
	}
	e.SHA256 = strings.ToLower(e.SHA256)
	if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size {
		return e, fmt.Errorf("sha256 must be 64 hex digits (the hash, not the token)")
	}
	if err := checkName("subject", e.Subject, true); err != nil {
		return e, err
	}
	if !e.Role.Valid() {
		return e, fmt.Errorf("role must be one of %v", Roles)
	}
	if err := checkName("agent_id", e.AgentID, e.Role == RoleAgent); err != nil {
		return e, err
	}
	if e.Role != RoleAgent && e.AgentID != "" {
		return e, fmt.Errorf("agent_id is only for role agent")
	}
	return e, nil
}

// checkName accepts printable text up to maxField bytes: names end up in
// logs and audit records.
func checkName(field, v string, required bool) error {
	if v == "" {
		if required {
			return fmt.Errorf("%s is required", field)
		}
		return nil
	}
	if len(v) > maxField {
		return fmt.Errorf("%s longer than %d bytes", field, maxField)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%s has a non-printable character", field)
		}
	}
	return nil
}

// TokenStore maps token hashes to identities. Lookups are lock-free; Reload
// swaps the whole table, so a lookup sees the old or the new file, never a
// mix. A failed reload keeps the old table.
type TokenStore struct {
	path  string
	table atomic.Pointer[map[string]Identity]
}

// LoadTokens reads the token file at path.
func LoadTokens(path string) (*TokenStore, error) {
	s := &TokenStore{path: path}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewTokenStore builds a store from entries (tests, embedding).
func NewTokenStore(entries []TokenEntry) *TokenStore {
	s := &TokenStore{}
	s.set(entries)
	return s
}

// Reload re-reads the file (hushd calls it on SIGHUP).
func (s *TokenStore) Reload() error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTokenFile, err)
	}
	defer f.Close()
	entries, err := ParseTokens(f)
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	s.set(entries)
	return nil
}

func (s *TokenStore) set(entries []TokenEntry) {
	m := make(map[string]Identity, len(entries))
	for _, e := range entries {
		m[e.SHA256] = Identity{Subject: e.Subject, Role: e.Role, AgentID: e.AgentID, Method: MethodToken}
	}
	s.table.Store(&m)
}

// Len is the number of tokens loaded.
func (s *TokenStore) Len() int { return len(*s.table.Load()) }

// Lookup returns the identity of a presented token. The token is hashed
// first and the map is keyed by the hash, so timing reveals nothing about
// the stored tokens.
func (s *TokenStore) Lookup(token string) (Identity, bool) {
	if token == "" {
		return Identity{}, false
	}
	return s.lookupHash(HashToken(token))
}

// lookupHash returns the identity of a token by its hash, in the table loaded now.
func (s *TokenStore) lookupHash(hash string) (Identity, bool) {
	id, ok := (*s.table.Load())[hash]
	return id, ok
}

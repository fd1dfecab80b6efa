package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Record is one audit entry. Seq, Time, Prev and Hash are filled in by
// Log.Append; the rest by the caller.
type Record struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"` // UTC, RFC 3339 with nanoseconds
	Actor     string    `json:"actor"`
	Role      string    `json:"role,omitempty"`
	Action    string    `json:"action"`
	SessionID string    `json:"session_id,omitempty"`
	CallID    string    `json:"call_id,omitempty"`
	AgentID   string    `json:"agent_id,omitempty"` // the agent the session is bound to
	RequestID string    `json:"request_id,omitempty"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail,omitempty"` // never card digits
	Prev      string    `json:"prev"`
	Hash      string    `json:"hash"`
}

// body is Record without Hash: what the hash covers.
type body struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Role      string    `json:"role,omitempty"`
	Action    string    `json:"action"`
	SessionID string    `json:"session_id,omitempty"`
	CallID    string    `json:"call_id,omitempty"`
	AgentID   string    `json:"agent_id,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail,omitempty"`
	Prev      string    `json:"prev"`
}

const (
	// MaxLine bounds one record line; Append refuses larger records and
	// Verify reports longer lines.
	MaxLine = 16 << 10
	// A primary account number has 12 to 19 digits (ISO/IEC 7812-1).
	minPAN, maxPAN = 12, 19
	hashMember     = `,"hash":"`
	suffixLen      = len(hashMember) + 2*sha256.Size + len(`"}`)
)

// Genesis is the prev of the first record.
var Genesis = hex.EncodeToString(make([]byte, sha256.Size))

// fields returns the caller-supplied text fields with their names.
func (r *Record) fields() [8][2]string {
	return [8][2]string{{"actor", r.Actor}, {"role", r.Role}, {"action", r.Action},
		{"session_id", r.SessionID}, {"call_id", r.CallID}, {"agent_id", r.AgentID}, {"request_id", r.RequestID},
		{"outcome", r.Outcome}}
}

// check validates the caller's fields: required ones set, no digit runs.
func (r *Record) check() error {
	fs := r.fields()
	for _, f := range append(fs[:], [2]string{"detail", r.Detail}) {
		if hasCardRun(f[1]) {
			return fmt.Errorf("%w: %s", ErrDigits, f[0])
		}
		if !utf8.ValidString(f[1]) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrRecord, f[0])
		}
	}
	switch {
	case r.Actor == "":
		return fmt.Errorf("%w: actor is empty", ErrRecord)
	case r.Action == "":
		return fmt.Errorf("%w: action is empty", ErrRecord)
	case r.Outcome == "":
		return fmt.Errorf("%w: outcome is empty", ErrRecord)
	}
	return nil
}

// A card-like run is a maximal run of ASCII digits that does not touch an
// ASCII letter (so it is a number of its own, not part of a hex or
// alphanumeric identifier such as a session id) and either has 12..19
// digits and passes the Luhn check (ISO/IEC 7812-1 Annex B), as every
// card number does, or has more than 19 digits (which could hide one).
// The Luhn check keeps ordinary long numbers (a UUID's last group, a
// numeric SIP Call-ID) through nine times in ten.

// cardRun returns the first card-like run in s at or after from, or -1.
func cardRun(s string, from int) (i, j int) {
	for i = from; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j = i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		n := j - i
		free := (i == 0 || !isLetter(s[i-1])) && (j == len(s) || !isLetter(s[j]))
		if free && (n > maxPAN || n >= minPAN && luhn(s[i:j])) {
			return i, j
		}
		i = j
	}
	return -1, -1
}

// hasCardRun reports whether s holds a card-like run.
func hasCardRun(s string) bool {
	i, _ := cardRun(s, 0)
	return i >= 0
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// luhn reports whether the digit string d passes the Luhn check.
func luhn(d string) bool {
	sum := 0
	for k := range len(d) {
		v := int(d[len(d)-1-k] - '0')
		if k%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// encode returns the line for r (with its trailing newline) and its hash.
func encode(r *Record) (line []byte, hash string, err error) {
	b, err := json.Marshal(body{r.Seq, r.Time, r.Actor, r.Role, r.Action, r.SessionID, r.CallID,
		r.AgentID, r.RequestID, r.Outcome, r.Detail, r.Prev})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrRecord, err)
	}
	sum := sha256.Sum256(b)
	hash = hex.EncodeToString(sum[:])
	line = make([]byte, 0, len(b)+suffixLen+1)
	line = append(line, b[:len(b)-1]...)
	line = append(line, hashMember...)
	line = append(line, hash...)
	line = append(line, "\"}\n"...)
	if len(line) > MaxLine {
		return nil, "", fmt.Errorf("%w: record is %d bytes, more than %d", ErrRecord, len(line), MaxLine)
	}
	return line, hash, nil
}

// ParseRecord reads one line (without its newline) and checks that it is
// a canonical record whose hash matches its content. It does not check
// the link to the previous record; Verify does.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	if len(line) > MaxLine {
		return r, fmt.Errorf("%w: longer than %d bytes", ErrRecord, MaxLine)
	}
	if len(line) < suffixLen+2 || !bytes.HasPrefix(line[len(line)-suffixLen:], []byte(hashMember)) ||
		!bytes.HasSuffix(line, []byte(`"}`)) {
		return r, fmt.Errorf("%w: does not end with the hash member", ErrRecord)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: not a JSON audit record", ErrRecord)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%w: trailing data", ErrRecord)
	}
	// Canonical form: re-encoding gives the same bytes. This rules out
	// duplicate members, reordering, whitespace and escapes that would let
	// two different lines mean the same record.
	want, hash, err := encode(&r)
	if err != nil {
		return Record{}, err
	}
	if !bytes.Equal(want[:len(want)-suffixLen-1], line[:len(line)-suffixLen]) {
		return Record{}, fmt.Errorf("%w: not in canonical form", ErrRecord)
	}
	if hash != r.Hash {
		return Record{}, fmt.Errorf("%w: hash does not match the record's content", ErrRecord)
	}
	if r.Seq == 0 || r.Time.IsZero() || r.Time.Location() != time.UTC {
		return Record{}, fmt.Errorf("%w: seq or time missing", ErrRecord)
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	if p, err := hex.DecodeString(r.Prev); err != nil || len(p) != sha256.Size || r.Prev != hex.EncodeToString(p) {
		return Record{}, fmt.Errorf("%w: prev is not a SHA-256", ErrRecord)
	}
	return r, nil
}

package ng

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// request is a decoded ng dictionary with its keys and flags normalized: rtpengine treats
// "media address", "media-address" and "media_address" alike, and flags case-insensitively
// with spaces or hyphens.
type request struct {
	command string // canonical command name, or "unknown"
	raw     string // the command as sent
	from    netip.AddrPort
	keys    map[string]any  // normalized key -> value
	flags   map[string]bool // normalized flag -> present
	order   []string        // flags as sent, for warnings
	warns   []string
}

// norm lowercases and turns '-' and '_' into spaces.
func norm(s string) string {
	b := []byte(strings.ToLower(strings.TrimSpace(s)))
	for i, c := range b {
		if c == '-' || c == '_' {
			b[i] = ' '
		}
	}
	return string(b)
}

func newRequest(d map[string]any, from netip.AddrPort) *request {
	r := &request{from: from, keys: make(map[string]any, len(d)), flags: map[string]bool{}}
	for k, v := range d {
		r.keys[norm(k)] = v
	}
	if c, ok := r.keys["command"].(string); ok {
		r.raw = c
		r.command = norm(c)
	}
	if fl, ok := r.keys["flags"].([]any); ok {
		for _, f := range fl {
			if s, ok := f.(string); ok {
				r.flags[norm(s)] = true
				r.order = append(r.order, s)
			}
		}
	}
	return r
}

func (r *request) warn(format string, args ...any) {
	r.warns = append(r.warns, fmt.Sprintf(format, args...))
}

// has reports a key.
func (r *request) has(key string) bool {
	_, ok := r.keys[key]
	return ok
}

// str returns a string key; a key of another type is an error.
func (r *request) str(key string) (string, error) {
	v, ok := r.keys[key]
	if !ok {
		return "", nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", fmt.Errorf("%w: %q must be a string", ErrField, key)
}

// strs returns a key that is a list of strings, or one string.
func (r *request) strs(key string) ([]string, error) {
	v, ok := r.keys[key]
	if !ok {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %q must be a list of strings", ErrField, key)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %q must be a list of strings", ErrField, key)
}

// integer returns an integer key (rtpengine's clients also send numbers as strings).
func (r *request) integer(key string) (int64, bool, error) {
	v, ok := r.keys[key]
	if !ok {
		return 0, false, nil
	}
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		if err == nil {
			return i, true, nil
		}
	}
	return 0, false, fmt.Errorf("%w: %q must be an integer", ErrField, key)
}

// yes reads an on/off key: yes, on, true, 1 or no, off, false, 0.
func (r *request) yes(key string) (set, on bool, err error) {
	s, err := r.str(key)
	if err != nil || !r.has(key) {
		return false, false, err
	}
	switch norm(s) {
	case "yes", "on", "true", "1":
		return true, true, nil
	case "no", "off", "false", "0":
		return true, false, nil
	}
	return false, false, fmt.Errorf("%w: %q must be yes/on or no/off", ErrField, key)
}

// ids returns call-id, from-tag and to-tag.
func (r *request) ids() (callID, fromTag, toTag string, err error) {
	if callID, err = r.str("call id"); err != nil {
		return
	}
	if fromTag, err = r.str("from tag"); err != nil {
		return
	}
	toTag, err = r.str("to tag")
	return
}

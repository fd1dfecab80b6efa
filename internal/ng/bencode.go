package ng

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
)

// Bencode (BitTorrent BEP 3) is the dictionary encoding of the ng protocol: byte strings
// "4:spam", integers "i42e", lists "l...e" and dictionaries "d...e" whose keys are byte
// strings. Values decode to string, int64, []any and map[string]any.

// Bounds on untrusted input: nesting (so hostile input cannot exhaust the stack) and the
// number of elements in one list or dictionary (so a message of one-byte elements cannot
// build a huge map).
const (
	maxDepth    = 32
	maxElements = 4096
)

// AppendBencode appends the encoding of v: string, []byte, int, int64, []string, []any,
// map[string]any or map[string]string. Dictionary keys are written sorted, as BEP 3 asks.
func AppendBencode(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendString(b, x), nil
	case []byte:
		b = strconv.AppendInt(b, int64(len(x)), 10)
		return append(append(b, ':'), x...), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case []string:
		b = append(b, 'l')
		for _, s := range x {
			b = appendString(b, s)
		}
		return append(b, 'e'), nil
	case []any:
		b = append(b, 'l')
		for _, e := range x {
			var err error
			if b, err = AppendBencode(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	case map[string]string:
		b = append(b, 'd')
		for _, k := range sortedKeys(x) {
			b = appendString(appendString(b, k), x[k])
		}
		return append(b, 'e'), nil
	case map[string]any:
		b = append(b, 'd')
		for _, k := range sortedKeys(x) {
			var err error
			if b, err = AppendBencode(appendString(b, k), x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	}
	return nil, fmt.Errorf("%w: cannot encode %T", ErrBencode, v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	return append(append(b, ':'), s...)
}

func appendInt(b []byte, i int64) []byte {
	return append(strconv.AppendInt(append(b, 'i'), i, 10), 'e')
}

// DecodeBencode decodes exactly one value that fills all of b. Dictionary keys need not be
// sorted (rtpengine's own clients do not sort them), but may not repeat.
func DecodeBencode(b []byte) (any, error) {
	v, n, err := decode(b, 0)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the value", ErrBencode, len(b)-n)
	}
	return v, nil
}

// decode decodes the value at the start of b and returns it and its length.
func decode(b []byte, depth int) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, fmt.Errorf("%w: unexpected end", ErrBencode)
	}
	if depth > maxDepth {
		return nil, 0, fmt.Errorf("%w: nested deeper than %d", ErrBencode, maxDepth)
	}
	switch c := b[0]; {
	case c == 'i':
		return decodeInt(b)
	case c >= '0' && c <= '9':
		return decodeString(b)
	case c == 'l':
		list := []any{}
		for n := 1; ; {
			if n >= len(b) {
				return nil, 0, fmt.Errorf("%w: unterminated list", ErrBencode)
			}
			if b[n] == 'e' {
				return list, n + 1, nil
			}
			if len(list) == maxElements {
				return nil, 0, fmt.Errorf("%w: list longer than %d", ErrBencode, maxElements)
			}
			v, m, err := decode(b[n:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			list = append(list, v)
			n += m
		}
	case c == 'd':
		dict := map[string]any{}
		for n := 1; ; {
			if n >= len(b) {
				return nil, 0, fmt.Errorf("%w: unterminated dictionary", ErrBencode)
			}
			if b[n] == 'e' {
				return dict, n + 1, nil
			}
			if b[n] < '0' || b[n] > '9' {
				return nil, 0, fmt.Errorf("%w: dictionary key is not a string", ErrBencode)
			}
			if len(dict) == maxElements {
				return nil, 0, fmt.Errorf("%w: dictionary larger than %d", ErrBencode, maxElements)
			}
			k, m, err := decodeString(b[n:])
			if err != nil {
				return nil, 0, err
			}
			n += m
			v, m, err := decode(b[n:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			n += m
			key := k.(string)
			if _, dup := dict[key]; dup {
				return nil, 0, fmt.Errorf("%w: repeated dictionary key", ErrBencode)
			}
			dict[key] = v
		}
	}
	return nil, 0, fmt.Errorf("%w: unexpected byte 0x%02x", ErrBencode, b[0])
}

func decodeInt(b []byte) (any, int, error) {
	end := bytes.IndexByte(b, 'e')
	if end < 0 {
		return nil, 0, fmt.Errorf("%w: unterminated integer", ErrBencode)
	}
	digits := b[1:end]
	// BEP 3: no leading zeros and no "-0".
	if len(digits) == 0 || len(digits) > 20 || (digits[0] == '0' && len(digits) > 1) ||
		(digits[0] == '-' && (len(digits) == 1 || digits[1] == '0')) {
		return nil, 0, fmt.Errorf("%w: bad integer", ErrBencode)
	}
	i, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: bad integer", ErrBencode)
	}
	return i, end + 1, nil
}

// decodeString decodes "len:bytes"; the length has at most 9 digits, far above any
// datagram, so it cannot overflow.
func decodeString(b []byte) (any, int, error) {
	colon := bytes.IndexByte(b, ':')
	if colon < 1 || colon > 9 || (b[0] == '0' && colon > 1) {
		return nil, 0, fmt.Errorf("%w: bad string length", ErrBencode)
	}
	l := 0
	for _, c := range b[:colon] {
		if c < '0' || c > '9' {
			return nil, 0, fmt.Errorf("%w: bad string length", ErrBencode)
		}
		l = l*10 + int(c-'0')
	}
	if l > len(b)-colon-1 {
		return nil, 0, fmt.Errorf("%w: string longer than the input", ErrBencode)
	}
	return string(b[colon+1 : colon+1+l]), colon + 1 + l, nil
}
